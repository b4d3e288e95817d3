// The tools' small behaviours: "Enhance prompt" (send the prompt, pick a version, undo).
(function () {
  "use strict";
  if (window.runwareToolsLoaded) return; // included by several templates on one page
  window.runwareToolsLoaded = true;

  function promptField() {
    return document.getElementById("id_positivePrompt");
  }

  function setPrompt(field, text) {
    field.value = text;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // "Enhance prompt" sends the prompt textarea as Runware's `prompt`.
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.closest("[data-enhance-button]")) return;
    var field = promptField();
    event.detail.parameters.prompt = field ? field.value : "";
  });

  // Picking a version replaces the prompt; the prompt from before the first pick is kept for Undo.
  var previous = null;

  document.addEventListener("click", function (event) {
    var pick = event.target.closest("[data-enhance-pick]");
    if (pick) {
      var field = promptField();
      if (!field) return;
      if (previous === null) previous = field.value;
      setPrompt(field, pick.dataset.text);
      var list = pick.closest("ol");
      if (list) list.querySelectorAll("li").forEach(function (li) { li.removeAttribute("aria-current"); });
      pick.closest("li").setAttribute("aria-current", "true");
      var enhance = pick.closest("[data-enhance]");
      var undo = enhance && enhance.querySelector("[data-enhance-undo]");
      if (undo) undo.hidden = false;
      field.focus();
      return;
    }
    var undoButton = event.target.closest("[data-enhance-undo]");
    if (undoButton) {
      var prompt = promptField();
      if (prompt && previous !== null) setPrompt(prompt, previous);
      previous = null;
      undoButton.hidden = true;
      var container = undoButton.closest("[data-enhance]");
      if (container) container.querySelectorAll("li[aria-current]").forEach(function (li) { li.removeAttribute("aria-current"); });
    }
  });
})();
