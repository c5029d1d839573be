"use strict";
// Follows a batch's background work (cases/templates/admin/cases/importbatch/work.html):
// asks how far it has got every second and a half, and shows the page anew once it ends.
(function () {
  const box = document.getElementById("work");
  if (!box) {
    return;
  }
  const bar = document.getElementById("work-bar");
  const stage = document.getElementById("work-stage");
  const count = document.getElementById("work-count");
  const state = document.getElementById("work-state");
  const format = new Intl.NumberFormat(document.documentElement.lang || undefined);
  const of = count ? count.dataset.of : "";

  function show(work) {
    if (work.finished || work.stale) {
      window.location.reload();
      return;
    }
    state.textContent = work.state_label;
    if (work.stage) {
      stage.textContent = work.stage.charAt(0).toUpperCase() + work.stage.slice(1);
    }
    if (work.total) {
      bar.max = work.total;
      bar.value = work.done;
      count.textContent = of.replace("{done}", format.format(work.done)).replace(
        "{total}", format.format(work.total));
    } else {
      bar.removeAttribute("value"); // still reading: no figure yet
      count.textContent = "";
    }
  }

  function ask() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (work) {
        if (work) {
          show(work);
        }
        window.setTimeout(ask, 1500);
      })
      .catch(function () { window.setTimeout(ask, 5000); });
  }
  window.setTimeout(ask, 1500);
})();
