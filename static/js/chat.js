// Chat page behaviours. Everything else (sending, streaming, errors) is server-rendered HTML
// swapped in by the htmx ws extension.
(function () {
  "use strict";

  function composer() { return document.querySelector("[data-chat-composer]"); }
  function input() { return document.querySelector("[data-chat-input]"); }

  function nearBottom() {
    var doc = document.documentElement;
    return doc.scrollHeight - (window.scrollY + window.innerHeight) < 160;
  }
  function toBottom() { window.scrollTo(0, document.documentElement.scrollHeight); }

  // Enter (or Ctrl/Cmd+Enter) sends the message, Shift+Enter starts a new line. In an edited
  // message, where Enter adds a line, Ctrl/Cmd+Enter sends the edit.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    var target = event.target;
    if (target.matches("[data-chat-input]")) {
      event.preventDefault();
      var form = composer();
      var send = form && form.querySelector(".composer-actions .btn-primary");
      if (form && send && !send.disabled) form.requestSubmit(send);
    } else if (target.matches("[data-chat-edit]") && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      target.form.requestSubmit();
    }
  });

  // Copy buttons: a code block's code, a message's text (a reply's Markdown source).
  function copied(button, ok) {
    var label = button.textContent;
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(function () { button.textContent = label; }, 1500);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-code], [data-copy-message]");
    if (!button) return;
    var text;
    if (button.matches("[data-copy-code]")) {
      text = button.parentElement.querySelector("pre").innerText;
    } else {
      var message = button.closest(".message");
      var source = message.querySelector("template[data-copy-source]");
      text = source ? source.content.textContent : message.querySelector(".message-body").innerText;
    }
    navigator.clipboard.writeText(text).then(function () { copied(button, true); }, function () { copied(button, false); });
  });

  // One message per press: a second Send before the server answered would send it twice.
  document.addEventListener("htmx:wsConfigSend", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-chat-composer]")) return;
    if (form.dataset.sending) {
      event.preventDefault();
      var trigger = event.detail.triggeringEvent;
      if (trigger) trigger.preventDefault(); // never fall back to a plain POST
      return;
    }
    form.dataset.sending = "1";
  });

  // Follow a growing reply when the reader is at the bottom; keep typing focus across swaps.
  var follow = false;
  var hadFocus = false;
  document.addEventListener("htmx:wsBeforeMessage", function () {
    follow = nearBottom();
    hadFocus = document.activeElement === input();
  });
  document.addEventListener("htmx:wsAfterMessage", function (event) {
    var form = composer();
    var message = event.detail.message || "";
    if (form && /id="composer-field-|toast-error/.test(message)) delete form.dataset.sending;
    if (hadFocus && input() && document.activeElement !== input()) input().focus();
    // The member's own message was just added (or a reply regenerated): show it, then follow.
    if (follow || /hx-swap-oob="beforeend:#thread-/.test(message)) toBottom();
  });

  // Forms that destroy something ask first: <form data-confirm="Delete …?">.
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector(".thread .message")) toBottom();
  });
})();
