// The studio's small behaviours: aspect-ratio presets, LoRA/ControlNet rows, clearing an input
// image, and painting an inpainting mask over the seed image. Everything else is server-rendered.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function form() { return document.getElementById("studio-form"); }

  // Tell the estimate (and anything else listening) that the settings changed.
  function settingsChanged() {
    var studio = form();
    if (studio) studio.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
    catch (error) { return ""; }
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

  // --- mask painting: white strokes over the seed image; exported as white-on-black PNG.
  var painting = { active: false, last: null, painted: false };

  function painter() { return document.querySelector("[data-mask-painter]"); }

  function maskMessage(text) {
    var message = document.querySelector("[data-mask-message]");
    if (message) message.textContent = text;
  }

  function openPainter() {
    var seed = document.querySelector("#image-input-seedImage img[data-full]");
    if (!seed) {
      maskMessage("Add a seed image first: the mask is painted over it.");
      return;
    }
    maskMessage("");
    var box = painter();
    var base = box.querySelector("[data-mask-base]");
    var canvas = box.querySelector("[data-mask-canvas]");
    base.onload = function () {
      canvas.width = base.naturalWidth;
      canvas.height = base.naturalHeight;
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      painting.painted = false;
    };
    base.dataset.imageId = seed.dataset.imageId;
    base.src = seed.dataset.full;
    box.hidden = false;
  }

  function point(canvas, event) {
    var rect = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * canvas.width / rect.width,
      y: (event.clientY - rect.top) * canvas.height / rect.height,
      scale: canvas.width / rect.width,
    };
  }

  function stroke(canvas, from, to) {
    var context = canvas.getContext("2d");
    var brush = document.querySelector("[data-mask-brush]");
    context.strokeStyle = "#fff";
    context.fillStyle = "#fff";
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = Number(brush ? brush.value : 40) * to.scale;
    context.beginPath();
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
    painting.painted = true;
  }

  document.addEventListener("pointerdown", function (event) {
    var canvas = event.target.closest("[data-mask-canvas]");
    if (!canvas) return;
    canvas.setPointerCapture(event.pointerId);
    painting.active = true;
    painting.last = point(canvas, event);
    stroke(canvas, painting.last, painting.last);
  });
  document.addEventListener("pointermove", function (event) {
    var canvas = event.target.closest("[data-mask-canvas]");
    if (!canvas || !painting.active) return;
    var next = point(canvas, event);
    stroke(canvas, painting.last, next);
    painting.last = next;
  });
  document.addEventListener("pointerup", function () { painting.active = false; });

  function useMask() {
    var box = painter();
    var canvas = box.querySelector("[data-mask-canvas]");
    var base = box.querySelector("[data-mask-base]");
    if (!painting.painted) {
      maskMessage("Paint over the part of the image to repaint first.");
      return;
    }
    var out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    var context = out.getContext("2d");
    context.fillStyle = "#000";
    context.fillRect(0, 0, out.width, out.height);
    context.drawImage(canvas, 0, 0);
    out.toBlob(function (blob) {
      var data = new FormData();
      data.append("target", "maskImage");
      data.append("source", base.dataset.imageId || "");
      data.append("image", blob, "mask.png");
      fetch(form().dataset.uploadUrl || "/studio/upload", {
        method: "POST",
        body: data,
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
        credentials: "same-origin",
      }).then(function (response) {
        if (!response.ok) throw new Error(response.statusText);
        return response.text();
      }).then(function (html) {
        var holder = document.getElementById("image-input-maskImage");
        holder.outerHTML = html;
        var fresh = document.getElementById("image-input-maskImage");
        if (window.htmx && fresh) window.htmx.process(fresh);
        box.hidden = true;
        maskMessage("");
        settingsChanged();
      }).catch(function () {
        maskMessage("The mask could not be uploaded. Check your connection and try again.");
      });
    }, "image/png");
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-mask-open]")) openPainter();
    else if (event.target.closest("[data-mask-close]")) painter().hidden = true;
    else if (event.target.closest("[data-mask-use]")) useMask();
    else if (event.target.closest("[data-mask-clear]")) {
      var canvas = painter().querySelector("[data-mask-canvas]");
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      painting.painted = false;
    }
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

  document.addEventListener("DOMContentLoaded", function () {
    syncPreset();
    focusRefusal();
    document.querySelectorAll("textarea[data-limit]").forEach(checkLimit);
  });
})();
