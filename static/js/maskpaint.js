// The studio's mask painter: the member paints, over the seed image, what inpainting should repaint.
//
// The painting is a canvas at the seed image's own pixel size, shown scaled to fit (or zoomed). It
// is kept as a list of actions (strokes, clears) and redrawn from them, so undo and redo cost no
// copies of the pixels. "Use painted mask", or Generate with a painting not yet used, turns it into a
// white-on-black PNG (white: repaint, black: keep) of the seed's size and uploads it the way a mask
// file is uploaded (the studio's upload view checks its type, size and pixels, and keeps it as a
// mask of the seed); the mask field then holds it like any other mask image.
(function () {
  "use strict";

  var MAX_ZOOM = 8; // × the fitted scale, and at least 4 × the image's own pixels
  var ZOOM_STEP = 1.5;

  var state = {
    seedId: "", width: 0, height: 0,
    tool: "brush",
    actions: [], undone: [], current: null,
    version: 0, usedVersion: 0, usedId: "", uploading: false,
    fit: 1, scale: 1,
    pointers: {}, pan: null, pinch: null,
  };

  function $(selector) { return document.querySelector(selector); }
  function painter() { return $("[data-mask-painter]"); }
  function canvas() { return $("[data-mask-canvas]"); }
  function viewport() { return $("[data-mask-viewport]"); }
  function studioForm() { return document.getElementById("studio-form"); }
  function seedPreview() { return $("#image-input-seedImage img[data-full]"); }
  function brushSize() { var brush = $("[data-mask-brush]"); return Number(brush ? brush.value : 40); }
  function isOpen() { var box = painter(); return Boolean(box && !box.hidden); }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; }
    catch (error) { return ""; }
  }

  function message(text) {
    var line = $("[data-mask-message]");
    if (line) line.textContent = text;
  }

  function note(text) {
    var line = $("[data-mask-state]");
    if (line) line.textContent = text;
  }

  function settingsChanged() {
    var form = studioForm();
    if (form) form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // ------------------------------------------------------------------ drawing

  function style(context, action) {
    context.globalCompositeOperation = action.mode === "erase" ? "destination-out" : "source-over";
    context.strokeStyle = context.fillStyle = "#ff2d55"; // opaque; the canvas is shown half transparent
    context.lineWidth = action.size;
    context.lineCap = "round";
    context.lineJoin = "round";
  }

  function drawSegment(context, action, from, to) {
    style(context, action);
    context.beginPath();
    if (from[0] === to[0] && from[1] === to[1]) {
      context.arc(to[0], to[1], action.size / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.moveTo(from[0], from[1]);
    context.lineTo(to[0], to[1]);
    context.stroke();
  }

  function drawStroke(context, action) {
    var points = action.points;
    if (points.length === 1) { drawSegment(context, action, points[0], points[0]); return; }
    style(context, action);
    context.beginPath();
    context.moveTo(points[0][0], points[0][1]);
    for (var i = 1; i < points.length; i++) context.lineTo(points[i][0], points[i][1]);
    context.stroke();
  }

  // Everything since the last clear, again from a blank canvas.
  function redraw() {
    var surface = canvas();
    var context = surface.getContext("2d");
    context.globalCompositeOperation = "source-over";
    context.clearRect(0, 0, surface.width, surface.height);
    var first = 0;
    state.actions.forEach(function (action, index) { if (action.kind === "clear") first = index + 1; });
    state.actions.slice(first).forEach(function (action) { drawStroke(context, action); });
  }

  function hasStrokes() {
    var last = state.actions[state.actions.length - 1];
    return Boolean(last && last.kind !== "clear");
  }

  function changed() {
    state.version += 1;
    refreshButtons();
    note(state.version === state.usedVersion ? "" : "Not used yet: it is sent with Generate, or now with “Use painted mask”.");
  }

  function record(action) {
    state.actions.push(action);
    state.undone = [];
    changed();
  }

  function undo() {
    if (!state.actions.length) return;
    state.undone.push(state.actions.pop());
    redraw();
    changed();
  }

  function redo() {
    if (!state.undone.length) return;
    state.actions.push(state.undone.pop());
    redraw();
    changed();
  }

  function clearPainting() {
    if (!hasStrokes()) return;
    record({ kind: "clear" });
    redraw();
  }

  function refreshButtons() {
    var box = painter();
    if (!box) return;
    box.querySelector("[data-mask-undo]").disabled = !state.actions.length;
    box.querySelector("[data-mask-redo]").disabled = !state.undone.length;
    box.querySelector("[data-mask-clear]").disabled = !hasStrokes();
    box.querySelectorAll("[data-mask-tool]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.maskTool === state.tool));
    });
    box.querySelector("[data-mask-zoom=out]").disabled = state.scale <= state.fit + 1e-6;
    box.querySelector("[data-mask-zoom=in]").disabled = state.scale >= maxScale() - 1e-6;
    box.querySelector("[data-mask-zoom-level]").textContent = Math.round(state.scale * 100) + "%";
    box.querySelector("[data-mask-viewport]").dataset.tool = state.tool;
  }

  function showSize() {
    var output = $("[data-mask-size]");
    if (output) output.textContent = brushSize() + " px";
  }

  // ------------------------------------------------------------------ opening, the seed image

  function reset(seed) {
    state.seedId = seed ? seed.dataset.imageId : "";
    state.actions = [];
    state.undone = [];
    state.current = null;
    state.version = state.usedVersion = 0;
    state.usedId = "";
    state.width = state.height = 0;
  }

  function open() {
    var seed = seedPreview();
    if (!seed) {
      message("Add a seed image first: the mask is painted over it.");
      return;
    }
    message("");
    var box = painter();
    var base = box.querySelector("[data-mask-base]");
    var surface = canvas();
    box.hidden = false;
    toggleOpener(true);
    if (seed.dataset.imageId === state.seedId && state.width) {
      fitToView();
      return;
    }
    reset(seed);
    state.seedId = seed.dataset.imageId;
    base.onload = function () {
      state.width = surface.width = base.naturalWidth;
      state.height = surface.height = base.naturalHeight;
      var brush = $("[data-mask-brush]");
      brush.value = Math.max(4, Math.min(256, Math.round(Math.max(state.width, state.height) / 16)));
      showSize();
      redraw();
      fitToView();
      note("");
      box.dataset.ready = "";
    };
    delete box.dataset.ready;
    base.removeAttribute("src");
    base.src = seed.dataset.full;
  }

  function close() {
    var box = painter();
    if (!box) return;
    box.hidden = true;
    toggleOpener(false);
  }

  function toggleOpener(opened) {
    var opener = $("[data-mask-open]");
    if (!opener) return;
    opener.setAttribute("aria-expanded", String(opened));
    opener.hidden = opened;
    if (opened) painter().querySelector("[data-mask-tool=brush]").focus({ preventScroll: true });
    else opener.focus({ preventScroll: true });
  }

  // A new or removed seed image: a painting of the old one means nothing for it.
  function seedChanged() {
    var seed = seedPreview();
    var id = seed ? seed.dataset.imageId : "";
    if (id === state.seedId) return;
    var hadPainting = state.actions.length > 0;
    reset(null);
    if (!isOpen()) return;
    if (seed) open();
    else close();
    if (hadPainting) message("The seed image changed, so the painting was cleared.");
  }

  // ------------------------------------------------------------------ zoom and panning

  function maxScale() { return Math.max(state.fit * MAX_ZOOM, 4); }

  function fitToView() {
    var view = viewport();
    if (!view || !state.width) return;
    var room = view.getBoundingClientRect();
    var tallest = Math.min(window.innerHeight * 0.7, 900); // the viewport's max-height (maskpaint.css)
    state.fit = Math.min(room.width / state.width, tallest / state.height);
    applyScale(state.fit);
  }

  // Shows the canvas at `scale` screen pixels per image pixel, keeping the image point under
  // (x, y) of the viewport (its centre by default) where it was.
  function applyScale(scale, x, y) {
    var view = viewport();
    var stage = $("[data-mask-stage]");
    var old = state.scale;
    scale = Math.max(state.fit, Math.min(maxScale(), scale));
    if (x === undefined) { x = view.clientWidth / 2; y = view.clientHeight / 2; }
    var imageX = (view.scrollLeft + x - stage.offsetLeft) / old;
    var imageY = (view.scrollTop + y - stage.offsetTop) / old;
    state.scale = scale;
    stage.style.width = Math.floor(state.width * scale) + "px";
    stage.style.height = Math.floor(state.height * scale) + "px";
    view.scrollLeft = imageX * scale + stage.offsetLeft - x;
    view.scrollTop = imageY * scale + stage.offsetTop - y;
    view.classList.toggle("zoomed", scale > state.fit + 1e-6);
    refreshButtons();
  }

  function zoom(direction) {
    if (direction === "fit") fitToView();
    else applyScale(direction === "in" ? state.scale * ZOOM_STEP : state.scale / ZOOM_STEP);
  }

  // ------------------------------------------------------------------ pointers: paint, pan, pinch

  function imagePoint(event) {
    var rect = canvas().getBoundingClientRect();
    return [
      (event.clientX - rect.left) * state.width / rect.width,
      (event.clientY - rect.top) * state.height / rect.height,
    ];
  }

  function showCursor(event) {
    var cursor = $("[data-mask-cursor]");
    if (!cursor) return;
    if (!event || state.tool === "move" || state.pan || state.pinch) { cursor.hidden = true; return; }
    var rect = canvas().getBoundingClientRect();
    var diameter = brushSize() * rect.width / state.width;
    cursor.hidden = false;
    cursor.style.width = cursor.style.height = diameter + "px";
    cursor.style.left = (event.clientX - rect.left - diameter / 2) + "px";
    cursor.style.top = (event.clientY - rect.top - diameter / 2) + "px";
  }

  function touches() {
    return Object.keys(state.pointers).map(function (id) { return state.pointers[id]; });
  }

  function pinchGeometry() {
    var pair = touches();
    return {
      distance: Math.hypot(pair[0].x - pair[1].x, pair[0].y - pair[1].y) || 1,
      x: (pair[0].x + pair[1].x) / 2,
      y: (pair[0].y + pair[1].y) / 2,
    };
  }

  function onPointerDown(event) {
    var surface = event.target.closest && event.target.closest("[data-mask-canvas]");
    if (!surface || !state.width) return;
    event.preventDefault();
    state.pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
    surface.setPointerCapture(event.pointerId);
    if (event.pointerType === "touch" && touches().length === 2) {
      // A second finger: a pinch or a two-finger drag, not a stroke (the first finger's is dropped).
      state.current = null;
      redraw();
      var view = viewport().getBoundingClientRect();
      var start = pinchGeometry();
      state.pinch = { distance: start.distance, scale: state.scale, x: start.x, y: start.y, left: view.left, top: view.top };
      showCursor(null);
      return;
    }
    if (state.tool === "move" || event.button === 1) {
      var scroller = viewport();
      state.pan = { id: event.pointerId, x: event.clientX, y: event.clientY, left: scroller.scrollLeft, top: scroller.scrollTop };
      showCursor(null);
      return;
    }
    if (event.button !== 0 || state.pinch) return;
    var at = imagePoint(event);
    state.current = { kind: "stroke", mode: state.tool === "eraser" ? "erase" : "paint", size: brushSize(),
                      points: [at], pointer: event.pointerId };
    drawSegment(surface.getContext("2d"), state.current, at, at);
  }

  function onPointerMove(event) {
    var surface = event.target.closest && event.target.closest("[data-mask-canvas]");
    if (!surface) return;
    if (state.pointers[event.pointerId]) state.pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
    if (state.pinch && touches().length === 2) {
      var now = pinchGeometry();
      var view = viewport();
      applyScale(state.pinch.scale * now.distance / state.pinch.distance, now.x - state.pinch.left, now.y - state.pinch.top);
      view.scrollLeft -= now.x - state.pinch.x;
      view.scrollTop -= now.y - state.pinch.y;
      state.pinch.x = now.x;
      state.pinch.y = now.y;
      state.pinch.distance = now.distance;
      state.pinch.scale = state.scale;
      return;
    }
    if (state.pan && state.pan.id === event.pointerId) {
      var scroller = viewport();
      scroller.scrollLeft = state.pan.left - (event.clientX - state.pan.x);
      scroller.scrollTop = state.pan.top - (event.clientY - state.pan.y);
      return;
    }
    showCursor(event);
    var stroke = state.current;
    if (!stroke || stroke.pointer !== event.pointerId) return;
    var context = surface.getContext("2d");
    var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    (events.length ? events : [event]).forEach(function (each) {
      var at = imagePoint(each);
      drawSegment(context, stroke, stroke.points[stroke.points.length - 1], at);
      stroke.points.push(at);
    });
  }

  function onPointerEnd(event) {
    if (!state.pointers[event.pointerId]) return;
    delete state.pointers[event.pointerId];
    if (state.pinch) {
      if (!touches().length) state.pinch = null;
      return;
    }
    if (state.pan && state.pan.id === event.pointerId) { state.pan = null; return; }
    var stroke = state.current;
    if (!stroke || stroke.pointer !== event.pointerId) return;
    state.current = null;
    if (event.type === "pointercancel") { redraw(); return; }
    delete stroke.pointer;
    record(stroke);
  }

  // ------------------------------------------------------------------ the mask image

  // The painting as the mask Runware takes: opaque white where painted, black elsewhere, at the
  // seed's size. Calls back with the PNG, or with null when nothing is painted.
  function maskBlob(callback) {
    if (!state.width) { callback(null); return; }
    var source = canvas().getContext("2d").getImageData(0, 0, state.width, state.height).data;
    var out = document.createElement("canvas");
    out.width = state.width;
    out.height = state.height;
    var context = out.getContext("2d");
    var mask = context.createImageData(state.width, state.height);
    var pixels = mask.data;
    var painted = 0;
    for (var i = 0; i < source.length; i += 4) {
      var value = source[i + 3] >= 128 ? 255 : 0;
      painted += value;
      pixels[i] = pixels[i + 1] = pixels[i + 2] = value;
      pixels[i + 3] = 255;
    }
    if (!painted) { callback(null); return; }
    context.putImageData(mask, 0, 0);
    out.toBlob(callback, "image/png");
  }

  function replaceMaskInput(html) {
    var holder = document.getElementById("image-input-maskImage");
    holder.outerHTML = html;
    var fresh = document.getElementById("image-input-maskImage");
    if (window.htmx && fresh) window.htmx.process(fresh);
    return fresh;
  }

  // Uploads the painting as the mask image; `done(true)` once the mask field holds it.
  function useMask(done) {
    if (state.uploading) return;
    var version = state.version;
    maskBlob(function (blob) {
      if (!blob) {
        message("Paint over the part of the image to repaint first.");
        done(false);
        return;
      }
      var data = new FormData();
      data.append("target", "maskImage");
      data.append("source", state.seedId);
      data.append("image", blob, "mask.png");
      state.uploading = true;
      note("Saving the painted mask…");
      fetch(studioForm().dataset.uploadUrl, {
        method: "POST",
        body: data,
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
        credentials: "same-origin",
      }).then(function (response) {
        if (!response.ok) throw new Error(response.statusText);
        return response.text();
      }).then(function (html) {
        state.uploading = false;
        var fresh = replaceMaskInput(html);
        var field = fresh && fresh.querySelector("input[type=hidden]");
        if (!field || !field.value) {
          var refusal = fresh && fresh.querySelector(".field-error");
          message(refusal && refusal.textContent.trim() || "The painted mask was not accepted.");
          note("");
          done(false);
          return;
        }
        state.usedVersion = version;
        state.usedId = field.value;
        message("");
        note(state.version === version ? "Used as the mask image." : "");
        settingsChanged();
        done(true);
      }).catch(function () {
        state.uploading = false;
        note("");
        message("The painted mask could not be uploaded. Check your connection and try again.");
        done(false);
      });
    });
  }

  // Generate with a painting the mask field does not hold yet: upload it first, then submit again.
  function beforeGenerate(event) {
    var form = event.target;
    if (!form || form.id !== "studio-form") return;
    if (state.uploading) { event.preventDefault(); event.stopImmediatePropagation(); return; }
    if (!state.width || state.version === state.usedVersion || !seedPreview()) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    var submitter = event.submitter;
    maskBlob(function (blob) {
      if (blob) {
        useMask(function (ok) { if (ok) form.requestSubmit(submitter || undefined); });
        return;
      }
      // Everything painted was erased or cleared: the painted mask is no longer wanted.
      var field = document.querySelector("#image-input-maskImage input[type=hidden]");
      var preview = document.querySelector("#image-input-maskImage .image-preview");
      if (field && field.value && field.value === state.usedId) { field.value = ""; if (preview) preview.remove(); }
      state.usedVersion = state.version;
      form.requestSubmit(submitter || undefined);
    });
  }

  // ------------------------------------------------------------------ wiring

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    var tool = target.closest("[data-mask-tool]");
    if (tool) { state.tool = tool.dataset.maskTool; refreshButtons(); return; }
    var zoomButton = target.closest("[data-mask-zoom]");
    if (zoomButton) { zoom(zoomButton.dataset.maskZoom); return; }
    if (target.closest("[data-mask-open]")) open();
    else if (target.closest("[data-mask-close]")) close();
    else if (target.closest("[data-mask-undo]")) undo();
    else if (target.closest("[data-mask-redo]")) redo();
    else if (target.closest("[data-mask-clear]")) clearPainting();
    else if (target.closest("[data-mask-use]")) useMask(function () {});
    else if (target.closest("[data-clear-image]")) seedChanged();
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-mask-brush]")) showSize();
  });

  document.addEventListener("keydown", function (event) {
    if (!isOpen() || !(event.ctrlKey || event.metaKey) || event.altKey) return;
    var field = event.target;
    if (field.isContentEditable || field.matches("textarea, select, input:not([type=range]):not([type=button])")) return;
    var key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) undo();
    else if ((key === "z" && event.shiftKey) || key === "y") redo();
    else return;
    event.preventDefault();
  });

  document.addEventListener("pointerdown", onPointerDown);
  document.addEventListener("pointermove", onPointerMove);
  document.addEventListener("pointerup", onPointerEnd);
  document.addEventListener("pointercancel", onPointerEnd);
  document.addEventListener("pointerout", function (event) {
    if (event.target.closest && event.target.closest("[data-mask-canvas]")) showCursor(null);
  });
  document.addEventListener("auxclick", function (event) {
    if (event.target.closest && event.target.closest("[data-mask-canvas]")) event.preventDefault();
  });
  // Ctrl + wheel (and a trackpad's pinch) zooms the painting around the pointer, not the page. Only
  // the painting's view listens (a wheel listener that may cancel slows every scroll it covers).
  function onWheel(event) {
    if (!(event.ctrlKey || event.metaKey) || !state.width) return;
    event.preventDefault();
    var rect = event.currentTarget.getBoundingClientRect();
    applyScale(state.scale * Math.pow(ZOOM_STEP, -event.deltaY / 100), event.clientX - rect.left, event.clientY - rect.top);
  }
  document.addEventListener("submit", beforeGenerate, true);

  // A mask file chosen after painting wins over the painting (until the member paints again).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail && event.detail.elt;
    if (source && source.closest && source.closest("#image-input-maskImage")) {
      state.usedVersion = state.version;
      note("");
    }
  });
  document.addEventListener("htmx:afterSettle", seedChanged);
  window.addEventListener("resize", function () {
    if (!isOpen() || !state.width) return;
    var zoomed = state.scale / state.fit;
    fitToView();
    if (zoomed > 1 + 1e-6) applyScale(state.fit * zoomed);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var view = viewport();
    if (view) view.addEventListener("wheel", onWheel, { passive: false });
    showSize();
    refreshButtons();
  });
})();
