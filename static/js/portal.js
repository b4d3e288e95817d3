// Small, named behaviours shared by every page. Page-specific ones live in their own files.
(function () {
  "use strict";

  // Toasts fade away after a while; errors stay until clicked.
  function expireToasts(root) {
    root.querySelectorAll(".toast:not([data-timed])").forEach(function (toast) {
      toast.dataset.timed = "1";
      toast.addEventListener("click", function () { toast.remove(); });
      if (!toast.classList.contains("toast-error")) {
        setTimeout(function () { toast.remove(); }, 6000);
      }
    });
  }

  // "Copy" buttons: <button data-copy="text to copy">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  document.addEventListener("DOMContentLoaded", function () { expireToasts(document); });
  document.addEventListener("htmx:afterSettle", function () { expireToasts(document); });
  document.addEventListener("htmx:wsAfterMessage", function () { expireToasts(document); });
})();
