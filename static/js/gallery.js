// Gallery: one small named behaviour — the selection bar counts what is ticked and enables its buttons.
(function () {
  "use strict";

  function updateSelection() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var ticked = document.querySelectorAll('input[data-select][form="bulk-form"]:checked').length;
    var count = form.querySelector("[data-selection-count]");
    form.classList.toggle("has-selection", ticked > 0);
    form.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = ticked === 0;
    });
    if (count) {
      count.textContent = ticked === 0
        ? "Tick “Select” on images to act on several at once."
        : ticked + (ticked === 1 ? " image selected" : " images selected");
    }
  }

  function clearSelection() {
    document.querySelectorAll('input[data-select][form="bulk-form"]:checked').forEach(function (box) {
      box.checked = false;
    });
    updateSelection();
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[data-select]")) updateSelection();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-clear-selection]")) clearSelection();
  });
  document.addEventListener("DOMContentLoaded", updateSelection);
  // After an action the tiles are swapped in again (unticked): count afresh.
  document.addEventListener("htmx:afterSettle", updateSelection);
})();
