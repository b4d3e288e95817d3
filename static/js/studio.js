// The studio's small behaviours: aspect-ratio presets, LoRA/ControlNet rows, clearing an input
// image. The mask painter is maskpaint.js. Everything else is server-rendered.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function form() { return document.getElementById("studio-form"); }

  // Tell the estimate (and anything else listening) that the settings changed.
  function settingsChanged() {
    var studio = form();
    if (studio) studio.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // --- aspect-ratio presets: the select fills width and height; typing a size selects its preset.
  function syncPreset() {
    var select = document.querySelector("[data-aspect-preset]");
    var width = document.getElementById("id_width");
    var height = document.getElementById("id_height");
    if (!select || !width || !height) return;
    var wanted = width.value + "x" + height.value;
    var match = Array.prototype.some.call(select.options, function (option) { return option.value === wanted; });
    select.value = match ? wanted : "";
  }

  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-aspect-preset]");
    if (!select || !select.value) return;
    var size = select.value.split("x");
    document.getElementById("id_width").value = size[0];
    document.getElementById("id_height").value = size[1];
    settingsChanged();
  });
  document.addEventListener("input", function (event) {
    if (event.target.id === "id_width" || event.target.id === "id_height") syncPreset();
  });

  // --- repeatable rows (LoRA, ControlNet): ids end in the row's index, kept in page order.
  function renumber(container) {
    var rows = container.querySelectorAll(":scope > [data-row]");
    rows.forEach(function (row, index) {
      row.querySelectorAll("[id], [for], [aria-describedby]").forEach(function (element) {
        ["id", "for", "aria-describedby"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace(/([_-])(\d+|__i__)$/, "$1" + index));
        });
      });
    });
    var badge = document.querySelector('[data-row-count="' + container.dataset.rows + '"]');
    if (badge) badge.textContent = rows.length;
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var kind = add.dataset.addRow;
      var container = document.getElementById(kind + "-rows");
      var template = document.getElementById(kind + "-template");
      container.appendChild(template.content.cloneNode(true));
      renumber(container);
      var row = container.lastElementChild;
      if (window.htmx) window.htmx.process(row);
      var first = row.querySelector("input:not([type=hidden]), select");
      if (first) first.focus();
      document.body.dispatchEvent(new Event("rows-changed"));
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var removed = remove.closest("[data-row]");
      var rows = removed.parentElement;
      removed.remove();
      renumber(rows);
      document.body.dispatchEvent(new Event("rows-changed"));
      return;
    }
    var clear = event.target.closest("[data-clear-image]");
    if (clear) {
      var input = clear.closest(".image-input");
      input.querySelector("input[type=hidden]").value = "";
      clear.closest(".image-preview").remove();
      settingsChanged();
      document.dispatchEvent(new Event("studio:image-cleared"));
    }
  });

  // An uploaded guide image comes back rendered for its row; keep the row numbering right.
  document.addEventListener("htmx:afterSettle", function (event) {
    var container = event.target.closest && event.target.closest("[data-rows]");
    if (container) renumber(container);
  });

  // "Use as seed" on a page without the form: follow the link instead.
  document.addEventListener("htmx:targetError", function (event) {
    var href = event.target.getAttribute && event.target.getAttribute("href");
    if (href) window.location.href = href;
  });

  // --- outpainting: the result is the seed image plus the extension. Say what size that makes, and
  // hold the size fields at it (read-only, so the estimate prices it) while the sides extend anything.
  var OUTPAINT_SIDES = ["top", "right", "bottom", "left"];

  function snap(side) { return Math.max(64, Math.round(side / 64) * 64); }

  function syncOutpaint() {
    var note = document.getElementById("outpaint-size");
    var width = document.getElementById("id_width");
    var height = document.getElementById("id_height");
    var preset = document.querySelector("[data-aspect-preset]");
    var sizeNote = document.getElementById("size-outpaint-note");
    if (!note || !width || !height) return;
    var sides = {};
    var extending = false;
    OUTPAINT_SIDES.forEach(function (side) {
      var input = document.getElementById("id_outpaint_" + side);
      sides[side] = Math.max(0, parseInt(input && input.value, 10) || 0);
      if (sides[side]) extending = true;
    });
    var seed = document.querySelector("#image-input-seedImage img[data-size]");
    var seedSize = seed && seed.dataset.size ? seed.dataset.size.split("x").map(Number) : null;
    if (extending && seedSize) {
      var result = [snap(seedSize[0]) + sides.left + sides.right, snap(seedSize[1]) + sides.top + sides.bottom];
      note.textContent = "The result will be " + result[0] + "×" + result[1] + ": the seed image (" +
        seedSize[0] + "×" + seedSize[1] + ") plus the extension." +
        (Math.max(result[0], result[1]) > 2048 ? " That is over 2048 pixels: extend less." : "");
      if (!width.readOnly) {
        width.dataset.before = width.value;
        height.dataset.before = height.value;
      }
      if (String(width.value) !== String(result[0]) || String(height.value) !== String(result[1])) {
        width.value = result[0];
        height.value = result[1];
        settingsChanged();
      }
      width.readOnly = height.readOnly = true;
      if (preset) preset.disabled = true;
      if (sizeNote) sizeNote.hidden = false;
      return;
    }
    note.textContent = extending ? "Add a seed image above: the result is the seed image plus the extension." : "";
    if (width.readOnly) {
      width.value = width.dataset.before || width.value;
      height.value = height.dataset.before || height.value;
      width.readOnly = height.readOnly = false;
      if (preset) preset.disabled = false;
      if (sizeNote) sizeNote.hidden = true;
      syncPreset();
      settingsChanged();
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target.id && event.target.id.indexOf("id_outpaint_") === 0) syncOutpaint();
  });
  document.addEventListener("htmx:afterSettle", syncOutpaint);
  document.addEventListener("studio:image-cleared", syncOutpaint);

  // --- Ctrl+Enter (⌘+Enter) in a prompt generates, as the button does.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var field = event.target.closest && event.target.closest("#studio-form textarea");
    if (!field) return;
    event.preventDefault();
    form().requestSubmit();
  });

  // --- a prompt over its limit is kept as typed or pasted (no maxlength cuts it); the note by the
  // field says how long it is and what the limit is, and the server refuses it there too.
  function number(value) { return Number(value).toLocaleString("en-US"); }

  function checkLimit(field) {
    var note = document.querySelector('[data-limit-for="' + field.id + '"]');
    var limit = Number(field.dataset.limit || 0);
    if (!note || !limit) return;
    var over = field.value.length - limit;
    note.hidden = over <= 0;
    note.textContent = over > 0 ? "This is " + number(field.value.length) + " characters; the limit is " +
      number(limit) + ". Shorten it by " + number(over) + " before generating: nothing was cut." : "";
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-limit]")) checkLimit(event.target);
  });

  // --- a refusal of Generate (budget, rate limit) is drawn above the button: move focus to it, once,
  // so it is seen (and read out) where the member is looking.
  function focusRefusal() {
    var refusal = document.querySelector("#generate-feedback [role=alert]:not([data-shown])");
    if (!refusal) return;
    refusal.setAttribute("data-shown", "");
    refusal.focus({ preventScroll: true });
    refusal.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("htmx:wsAfterMessage", focusRefusal);

  // --- the member's draft (prompt, model, settings, LoRA and ControlNet rows, input images) is kept in
  // this browser, one per member, as it is typed, and put back when the studio opens again: after going
  // to another page, or a reload. A link into the studio (Models' "Use in studio", "Add as LoRA", "Use for
  // ControlNet", "Use as seed", "Reuse") changes only what it names; the rest of the draft stays.
  // Generating keeps the draft, as the form keeps what was sent.
  var ROW_KINDS = ["lora", "controlnet"];
  var draft = { key: "", restoring: false, timer: null };

  function storage() {
    try { return window.localStorage; } catch (error) { return null; }  // blocked: the form still works
  }

  function fieldValue(element) { return element.type === "checkbox" ? element.checked : element.value; }

  function setFieldValue(element, value) {
    if (element.type === "checkbox") element.checked = value === true;
    else element.value = value;
  }

  function rowValues(row) {
    var values = {};
    row.querySelectorAll("[name]").forEach(function (element) {
      if (element.type !== "file") values[element.name] = fieldValue(element);
    });
    return values;
  }

  function readDraft() {
    var studio = form();
    var saved = { fields: {}, rows: {} };
    Array.prototype.forEach.call(studio.elements, function (element) {
      if (!element.name || element.type === "file" || element.name === "csrfmiddlewaretoken") return;
      if (element.closest("[data-rows]")) return;  // rows are kept row by row, below
      saved.fields[element.name] = fieldValue(element);
    });
    ROW_KINDS.forEach(function (kind) {
      saved.rows[kind] = Array.prototype.map.call(
        document.querySelectorAll("#" + kind + "-rows > [data-row]"), rowValues);
    });
    return saved;
  }

  function saveDraft(now) {
    var store = storage();
    if (!store || !draft.key || draft.restoring) return;
    clearTimeout(draft.timer);
    var write = function () {
      try { store.setItem(draft.key, JSON.stringify(readDraft())); } catch (error) { /* full: keep going */ }
    };
    if (now) write();
    else draft.timer = setTimeout(write, 200);
  }

  // What the address names, as the studio URL contract's fields (docs/architecture.md). A reload or
  // going back names nothing: the draft, which took the link in when it was followed, is the newer.
  function linkedNames() {
    var names = {};
    var navigation = window.performance && performance.getEntriesByType ?
      performance.getEntriesByType("navigation")[0] : null;
    if (navigation && navigation.type !== "navigate") return names;
    new URLSearchParams(window.location.search).forEach(function (value, name) { names[name] = true; });
    return names;
  }

  // The draft's rows, then each row the link added (one naming a model the draft already has
  // changes that row instead: its weight, or its guide image).
  function mergedRows(kind, saved, container, names) {
    var rows = (saved.rows && saved.rows[kind] || []).map(function (row) { return Object.assign({}, row); });
    var linked = names[kind + "_model"] || names[kind + "_guide"];
    if (!linked) return rows;
    container.querySelectorAll(":scope > [data-row]").forEach(function (element) {
      var row = rowValues(element);
      var model = row[kind + "_model"];
      var same = rows.filter(function (mine) {
        return mine[kind + "_model"] === model &&
          (kind !== "controlnet" || !row.controlnet_guide || mine.controlnet_guide === row.controlnet_guide);
      })[0];
      if (!same) rows.push(row);
      else if (kind === "lora" && names.lora_weight) same.lora_weight = row.lora_weight;
    });
    return rows;
  }

  function rebuildRows(kind, rows) {
    var container = document.getElementById(kind + "-rows");
    var template = document.getElementById(kind + "-template");
    var rendered = Array.prototype.map.call(container.querySelectorAll(":scope > [data-row]"), rowValues);
    if (JSON.stringify(rendered) === JSON.stringify(rows)) return;  // the page has them already
    container.querySelectorAll(":scope > [data-row]").forEach(function (row) { row.remove(); });
    rows.forEach(function (values) {
      container.appendChild(template.content.cloneNode(true));
      var row = container.lastElementChild;
      Object.keys(values).forEach(function (name) {
        var element = row.querySelector('[name="' + name + '"]');
        if (!element) return;
        setFieldValue(element, values[name]);
        // as the page renders a row: its value in the markup too
        if (element.tagName === "INPUT" && element.type !== "checkbox") element.setAttribute("value", values[name]);
      });
    });
    renumber(container);
    var fold = document.getElementById(kind + "-fold");
    if (fold && rows.length) fold.open = true;
  }

  // An input image's widget (its preview) for the id the draft holds; an image gone from the
  // gallery since is dropped from the draft.
  function showImage(holder, target, index) {
    var studio = form();
    var hidden = holder.querySelector('input[type=hidden][name="' + target + '"]');
    var imageId = hidden ? hidden.value : "";
    if (!imageId || holder.querySelector("[data-image-id='" + imageId + "']")) return;
    var query = new URLSearchParams({ target: target, image: imageId });
    if (index !== null) query.set("index", index);
    fetch(studio.dataset.imageInputUrl + "?" + query, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html) {
          hidden.value = "";
          saveDraft(true);
          return;
        }
        holder.outerHTML = html;
        var fresh = document.getElementById(holder.id);
        if (window.htmx && fresh) window.htmx.process(fresh);
        syncOutpaint();
        settingsChanged();
      })
      .catch(function () { /* offline: the id stays in the draft, shown next time */ });
  }

  function showChosenModel(air) {
    var chosen = document.getElementById("model-picker-chosen");
    var url = form().dataset.chosenUrl;
    if (!chosen || !url) return;
    var fresh = chosen.cloneNode(false);
    fresh.setAttribute("hx-get", url + "?" + new URLSearchParams({ model: air }));
    fresh.setAttribute("hx-trigger", "load");
    fresh.setAttribute("hx-swap", "outerHTML");
    var code = document.createElement("code");
    code.textContent = air;
    fresh.append("Chosen: ", code, " (looking up its name…)");
    chosen.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
  }

  // A folded section that the draft changed opens, as the page opens one that a link filled in.
  function changed(element) {
    if (element.type === "hidden") return element.value !== "";  // an input image's id
    if (element.type === "checkbox") return element.checked !== element.defaultChecked;
    if (element.tagName === "SELECT") {
      return Array.prototype.some.call(element.options, function (option) { return option.selected !== option.defaultSelected; });
    }
    return element.value !== element.defaultValue;
  }

  function openFoldsInUse() {
    document.querySelectorAll("#studio-form details.fold").forEach(function (fold) {
      var fields = fold.querySelectorAll("input[name]:not([type=file]), select[name], textarea[name]");
      if (Array.prototype.some.call(fields, changed)) fold.open = true;
    });
  }

  function restoreDraft() {
    var studio = form();
    var store = storage();
    if (!studio || !store || !studio.dataset.draftKey) return false;
    draft.key = studio.dataset.draftKey;
    var saved = null;
    try { saved = JSON.parse(store.getItem(draft.key) || "null"); } catch (error) { saved = null; }
    var names = linkedNames();
    if (!saved || !saved.fields || names.reuse) return false;  // "Reuse" sets every setting
    draft.restoring = true;
    var model = document.getElementById("id_model");
    var modelBefore = model ? model.value : "";
    Object.keys(saved.fields).forEach(function (name) {
      if (names[name]) return;
      var element = studio.elements.namedItem(name);
      if (element && element.tagName && !element.closest("[data-rows]")) setFieldValue(element, saved.fields[name]);
    });
    ROW_KINDS.forEach(function (kind) {
      rebuildRows(kind, mergedRows(kind, saved, document.getElementById(kind + "-rows"), names));
    });
    draft.restoring = false;
    openFoldsInUse();
    if (model && model.value && model.value !== modelBefore) showChosenModel(model.value);
    ["seedImage", "maskImage"].forEach(function (target) {
      var holder = document.getElementById("image-input-" + target);
      if (holder) showImage(holder, target, null);
    });
    document.querySelectorAll("#controlnet-rows > [data-row]").forEach(function (row, index) {
      var holder = row.querySelector("[data-image-input]");
      if (holder) showImage(holder, "controlnet_guide", index);
    });
    return true;
  }

  var draftRestored = restoreDraft();
  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#studio-form")) saveDraft();
  });
  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#studio-form")) saveDraft();
  });
  document.addEventListener("htmx:afterSettle", function () { saveDraft(); });
  document.addEventListener("studio:image-cleared", function () { saveDraft(); });
  document.body.addEventListener("rows-changed", function () { saveDraft(); });
  window.addEventListener("pagehide", function () { saveDraft(true); });

  document.addEventListener("DOMContentLoaded", function () {
    syncPreset();
    syncOutpaint();
    focusRefusal();
    document.querySelectorAll("textarea[data-limit]").forEach(checkLimit);
    if (draftRestored) settingsChanged();  // the estimate, for the draft's settings
    saveDraft(true);  // what a link added is part of the draft from now on
  });
})();
