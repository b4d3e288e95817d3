// The spend page's small behaviours: the live badge, and custom dates only when asked for.
(function () {
  "use strict";

  // "Live" while the page's socket is open, "Reconnecting…" while htmx retries.
  function setLive(state, text) {
    var badge = document.querySelector("[data-live-badge]");
    if (!badge) return;
    badge.hidden = false;
    badge.dataset.state = state;
    badge.textContent = text;
  }
  document.addEventListener("htmx:wsOpen", function () { setLive("live", "Live"); });
  document.addEventListener("htmx:wsClose", function () { setLive("lost", "Reconnecting…"); });

  // Flash a total that just changed, so a live update is noticed.
  document.addEventListener("htmx:wsBeforeMessage", function () {
    var before = {};
    document.querySelectorAll("[data-period-total]").forEach(function (cell) {
      var row = cell.closest("tr");
      if (row && row.id) before[row.id] = cell.textContent;
    });
    document.addEventListener("htmx:wsAfterMessage", function after() {
      document.removeEventListener("htmx:wsAfterMessage", after);
      document.querySelectorAll("[data-period-total]").forEach(function (cell) {
        var row = cell.closest("tr");
        if (row && row.id in before && before[row.id] !== cell.textContent) row.classList.add("flash");
      });
    });
  });

  // The From/To fields only matter for "Custom dates".
  function showDates(form) {
    var select = form.querySelector("select[name=period]");
    var custom = !select || select.value === "custom" || form.querySelector(".period-date.has-error");
    form.querySelectorAll(".period-date").forEach(function (field) { field.hidden = !custom; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-period-form]");
    if (!form) return;
    showDates(form);
    form.addEventListener("change", function () { showDates(form); });
  });
})();
