"use strict";
// Accessible names for the admin's controls that have no <label>: select2 autocompletes
// (their visible box is a <span role="combobox">) and the fields of tabular inline rows.
// Runs again whenever an inline row is added.
(function () {
  function nameOf(control) {
    const label = control.id && document.querySelector(`label[for="${control.id}"]`);
    if (label) {
      return label.textContent.replace(/:\s*$/, "").trim();
    }
    const cell = control.closest("td");
    const table = cell && cell.closest("table");
    if (table) {
      const index = Array.prototype.indexOf.call(cell.parentNode.children, cell);
      const header = table.querySelectorAll("thead th")[index];
      if (header && header.textContent.trim()) {
        return header.textContent.trim();
      }
    }
    return control.name || "";
  }

  function fix() {
    document.querySelectorAll(".select2-selection[role=combobox]").forEach(function (box) {
      const container = box.closest(".select2-container");
      const select = container && container.previousElementSibling;
      if (select && select.tagName === "SELECT" && !box.getAttribute("aria-label")) {
        const name = nameOf(select);
        box.removeAttribute("aria-labelledby");
        box.setAttribute("aria-label", name);
        box.querySelectorAll("[role=textbox]").forEach(function (shown) {
          shown.setAttribute("aria-label", name);
        });
      }
    });
    document
      .querySelectorAll("td select:not([aria-label]), td input:not([type=hidden]):not([aria-label]), td textarea:not([aria-label])")
      .forEach(function (control) {
        if (!control.id || !document.querySelector(`label[for="${control.id}"]`)) {
          const name = nameOf(control);
          if (name) {
            control.setAttribute("aria-label", name);
          }
        }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fix();
    new MutationObserver(fix).observe(document.body, { childList: true, subtree: true });
  });
})();
