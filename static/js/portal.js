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

  // A page's socket closed on purpose. The portal closes it with 4009 for a message over
  // MAX_FRAME_BYTES (runware_web/live/consumers.py holds the same number); Daphne drops the
  // connection (1006) for one over its own, larger limit; a proxy may say 1009 (Message Too Big).
  // Each way the member is told why and the page reconnects (htmx does so itself after 1006 only).
  // A socket one too many (4429) brings its own message, and htmx does not reconnect it.
  var MAX_FRAME_BYTES = 256 * 1024;
  var TOO_BIG = [4009, 1009];
  var ABNORMAL = 1006;
  var oversized = new WeakSet();  // socket wrappers whose last message was over the limit

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

  document.addEventListener("htmx:wsBeforeSend", function (event) {
    var wrapper = event.detail.socketWrapper;
    if (new Blob([event.detail.message]).size > MAX_FRAME_BYTES) oversized.add(wrapper);
    else oversized.delete(wrapper);
  });

  document.addEventListener("htmx:wsClose", function (event) {
    var wrapper = event.detail.socketWrapper;
    var code = event.detail.event.code;
    var closedForIt = TOO_BIG.indexOf(code) >= 0;
    var tooBig = closedForIt || (code === ABNORMAL && oversized.has(wrapper));
    oversized.delete(wrapper);
    if (!tooBig) return;
    showError("That message was too large (over " + MAX_FRAME_BYTES / 1024 + " KB). "
      + "Upload images through the upload field; the page reconnects.");
    if (closedForIt) wrapper.reconnect();
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
