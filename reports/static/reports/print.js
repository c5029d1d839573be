"use strict";
// The report's "Print" button: shown only where this script runs (no inline script: the CSP).
(function () {
  const button = document.getElementById("print-page");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }
})();
