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

  // A page's socket closed on purpose. The portal's Daphne (runware_web/live/server.py, which holds
  // the same MAX_FRAME_BYTES) closes it with 1009 (Message Too Big) for a message over the limit:
  // the member is told why and the page reconnects (htmx itself reconnects only after 1006, 1012
  // and 1013). A socket one too many (4429) brings its own message, and htmx does not reconnect it.
  var MAX_FRAME_BYTES = 256 * 1024;
  var TOO_BIG = 1009;

  function showError(message) {
    var toasts = document.getElementById("toasts");
    if (!toasts) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-error";
    toast.setAttribute("role", "alert");
    toast.textContent = message;
    toasts.appendChild(toast);
    expireToasts(toasts);
  }

  document.addEventListener("htmx:wsClose", function (event) {
    if (event.detail.event.code !== TOO_BIG) return;
    showError("That message was too large (over " + MAX_FRAME_BYTES / 1024 + " KB). "
      + "Upload images through the upload field; the page reconnects.");
    event.detail.socketWrapper.reconnect();
  });

  // An upload over the size limit is answered 413 with a toast only (HX-Reswap: none, out of band):
  // htmx swaps no error answer by default, so the member would hear nothing. The form stays as it is.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 413) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("DOMContentLoaded", function () { expireToasts(document); });
  document.addEventListener("htmx:afterSettle", function () { expireToasts(document); });
  document.addEventListener("htmx:wsAfterMessage", function () { expireToasts(document); });
})();
