// Small, named behaviours of the model search page and the studio's model picker.
(function () {
  "use strict";
  if (window.runwareCatalog) return; // the picker include may bring this file in more than once
  window.runwareCatalog = true;

  var AIR = /^[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/;

  // Tidy search URLs: empty filters stay out of the request and the address bar.
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.closest("#model-search") || !event.detail.formData) return;
    var form = event.detail.formData;
    Array.from(form.keys()).forEach(function (key) {
      if (form.getAll(key).every(function (value) { return value === ""; })) form.delete(key);
    });
  });

  // A filter of the search (a select or a checkbox) changed: search again. Said here rather than as
  // an htmx trigger filter, which htmx would evaluate as code: the CSP allows no eval.
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("#model-search");
    if (form && event.target.matches("select, input[type=checkbox]") && window.htmx) {
      window.htmx.trigger(form, "filters-changed");
    }
  });

  // Model picker: close its list.
  function closePicker(picker) {
    var options = picker.querySelector(".model-picker-options");
    if (options) options.innerHTML = "";
  }

  function pickerOptions(picker) {
    return Array.from(picker.querySelectorAll(".picker-option"));
  }

  // Whether the open list is the one for what the input holds now (the server marks each list
  // with the words it searched; a search waits for a pause in typing, so a list can be stale).
  function listIsCurrent(picker) {
    var marker = picker.querySelector(".model-picker-options [data-picker-for]");
    var input = picker.querySelector("input");
    return Boolean(marker && input) && marker.dataset.pickerFor === input.value.replace(/\s+/g, " ").trim();
  }

  // Pick the current list's first match. The request is made here rather than by clicking the
  // button: a list swapped in a moment ago may not have its htmx handlers yet, and the click would
  // do nothing. Returns false when there is no current list to pick from.
  function pickFirst(picker) {
    var first = picker.querySelector(".picker-option");
    if (!first || !listIsCurrent(picker) || !window.htmx) return false;
    window.htmx.ajax("GET", first.getAttribute("hx-get"), {source: first, target: "#model-picker", swap: "outerHTML"});
    return true;
  }

  // Typing again takes back an Enter that was waiting for its list.
  document.addEventListener("input", function (event) {
    var picker = event.target.closest && event.target.closest("[data-model-picker]");
    if (picker) delete picker.dataset.pickFirst;
  });

  // Enter pressed before the list for what was typed arrived picks once it has.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.id !== "model-picker-options") return;
    var picker = event.target.closest("[data-model-picker]");
    if (picker && picker.dataset.pickFirst && pickFirst(picker)) delete picker.dataset.pickFirst;
  });

  // Model picker keyboard (typing or a click opens the list too): ↓ opens the list, ↓/↑ move
  // through it, Enter on the input picks the first match (instead of submitting the studio form
  // with search words), Escape closes the list.
  document.addEventListener("keydown", function (event) {
    var picker = event.target.closest && event.target.closest("[data-model-picker]");
    if (!picker) return;
    var options = pickerOptions(picker);
    var input = picker.querySelector("input");
    var index = options.indexOf(event.target);
    if (event.key === "Escape" && options.length) {
      event.preventDefault();
      closePicker(picker);
      input.focus();
    } else if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      options[Math.min(index + 1, options.length - 1)].focus();
    } else if (event.key === "ArrowDown" && event.target === input && window.htmx) {
      event.preventDefault();
      // A picker swapped in a moment ago (a model was just chosen) gets its htmx handlers only
      // once it settles; make sure it has them, or the list would not open.
      window.htmx.process(picker);
      window.htmx.trigger(input, "search"); // open the list
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      if (index === 0) input.focus(); else options[index - 1].focus();
    } else if (event.key === "Enter" && event.target === input && input.value && !AIR.test(input.value.trim())) {
      event.preventDefault();
      if (!pickFirst(picker) && window.htmx) {
        picker.dataset.pickFirst = "true"; // as soon as the list for what was typed arrives
        window.htmx.process(picker);
        window.htmx.trigger(input, "search");
      }
    }
  });

  // Model picker: the list closes when the focus or a click goes elsewhere.
  document.addEventListener("focusout", function (event) {
    var picker = event.target.closest && event.target.closest("[data-model-picker]");
    if (picker && event.relatedTarget && !picker.contains(event.relatedTarget)) closePicker(picker);
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("[data-model-picker]").forEach(function (picker) {
      if (!picker.contains(event.target)) closePicker(picker);
    });
  });
})();
