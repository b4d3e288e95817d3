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
  var CLOSE_TOO_MANY_SOCKETS = 4429;

  // An error toast; `once`: not again while the same one is still shown.
  function showError(message, once) {
    var toasts = document.getElementById("toasts");
    if (!toasts) return;
    if (once && Array.prototype.some.call(toasts.children, function (t) { return t.textContent === message; })) return;
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

  // A page's socket lost: the server went away (a restart, a network change). htmx reconnects by itself
  // after 1006, 1011, 1012 and 1013, the portal after any other close but its own 4429; meanwhile the
  // page says so, its ws-send forms refuse to send (htmx would queue the message and send it whenever
  // the socket came back) and their buttons look unavailable. On reopening, the server sends the page's
  // current state (PortalConsumer.on_connected), so whatever ended meanwhile is shown as it is now.
  var OFFLINE_TEXT = "Connection to the portal lost — reconnecting… Nothing can be sent until it is back.";
  var REFUSED_TEXT = "Not sent: the connection to the portal is lost. The page is reconnecting; "
    + "send again once it is back.";
  var HTMX_RETRIES = [1006, 1011, 1012, 1013];
  var leaving = false;

  // Retries come quickly at first and at most 10 s apart (htmx's own delay grows to 64 s).
  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retryCount) {
      return Math.min(500 * Math.pow(2, retryCount), 10000) * (0.5 + Math.random() / 2);
    };
  }

  function sendButtons(socketElt) {
    return socketElt.querySelectorAll("[ws-send] button:not([type=button]), [ws-send] input[type=submit]");
  }

  function setOffline(socketElt, offline) {
    socketElt.toggleAttribute("data-socket-lost", offline);
    sendButtons(socketElt).forEach(function (button) {
      if (offline && button.getAttribute("aria-disabled") !== "true") {
        button.setAttribute("aria-disabled", "true");
        button.dataset.socketLost = "1";
      } else if (!offline && button.dataset.socketLost) {
        button.removeAttribute("aria-disabled");
        delete button.dataset.socketLost;
      }
    });
    var anyLost = document.querySelector("[data-socket-lost]") !== null;
    document.body.classList.toggle("socket-lost", anyLost);
    var status = document.getElementById("connection-status");
    if (status) status.textContent = anyLost ? OFFLINE_TEXT : "";
  }

  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("pageshow", function () { leaving = false; });

  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event.code;
    if (leaving || code === CLOSE_TOO_MANY_SOCKETS) return; // told why by the server, not retried
    setOffline(event.target, true);
    if (code !== TOO_BIG && HTMX_RETRIES.indexOf(code) < 0) { // e.g. 1001, a server going away
      setTimeout(function () { event.detail.socketWrapper.reconnect(); }, 1000);
    }
  });
  document.addEventListener("htmx:wsOpen", function (event) { setOffline(event.target, false); });

  // The page's requests wait too (the running tasks' poll, the studio's estimate…): the server is away.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.body.classList.contains("socket-lost")) event.preventDefault();
  });

  document.addEventListener("htmx:wsConfigSend", function (event) {
    var socketElt = event.target.closest("[data-socket-lost]");
    if (!socketElt) return;
    event.preventDefault();
    var trigger = event.detail.triggeringEvent;
    if (trigger) trigger.preventDefault(); // or the form would be posted the old way
    showError(REFUSED_TEXT, true);
  });

  // Buttons that open a panel next to them: the header's menu on a narrow screen, the running tasks.
  // aria-expanded says whether it is open; Escape closes it and gives focus back to its button.
  function setExpanded(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    var panel = document.getElementById(button.getAttribute("aria-controls"));
    // The header's menu is shown by CSS (always on a wide screen); the running tasks by `hidden`.
    if (panel && button.classList.contains("activity-toggle")) panel.toggleAttribute("hidden", !open);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".nav-toggle, .activity-toggle");
    if (button) {
      setExpanded(button, button.getAttribute("aria-expanded") !== "true");
      return;
    }
    document.querySelectorAll(".activity-toggle[aria-expanded=true]").forEach(function (open) {
      var panel = document.getElementById(open.getAttribute("aria-controls"));
      if (panel && !panel.contains(event.target)) setExpanded(open, false);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".nav-toggle[aria-expanded=true], .activity-toggle[aria-expanded=true]")
      .forEach(function (open) {
        var panel = document.getElementById(open.getAttribute("aria-controls"));
        if (panel && panel.contains(document.activeElement)) open.focus();
        setExpanded(open, false);
      });
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
