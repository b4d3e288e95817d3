// The viewer: a link marked data-viewer (a gallery tile, a studio result) opens its image's page in
// a lightbox instead of leaving the page. The lightbox is a modal <dialog> (the page behind it is
// inert, so focus stays inside; Escape closes it and focus returns to the tile) whose body is the
// image page's #viewer partial, fetched by htmx: the image, video, audio clip or 3D model, its
// settings and its actions, which work in place as on the page. Previous and Next (and the arrow
// keys) go through the page's other data-viewer links in their order. Deleting removes the tile and
// moves on to the next. Without JavaScript, or with a modifier key, the link opens the page.
(function () {
  "use strict";

  var dialog, body, position, status, prevButton, nextButton, pageLink;
  var current = null; // the link whose image is shown

  function button(label, name, onClick) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "btn btn-small";
    element.textContent = label;
    if (name) element.setAttribute("aria-label", name);
    element.addEventListener("click", onClick);
    return element;
  }

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "viewer";
    dialog.setAttribute("aria-label", "Image viewer");
    var bar = document.createElement("div");
    bar.className = "viewer-bar";
    prevButton = button("← Previous", "Previous image", function () { step(-1); });
    nextButton = button("Next →", "Next image", function () { step(1); });
    position = document.createElement("span");
    position.className = "viewer-position";
    status = document.createElement("span");
    status.className = "viewer-status";
    status.setAttribute("role", "status");
    var spacer = document.createElement("span");
    spacer.className = "viewer-spacer";
    pageLink = document.createElement("a");
    pageLink.className = "btn btn-small btn-link viewer-page";
    pageLink.textContent = "Open its page";
    var close = button("Close", "Close the viewer", function () { dialog.close(); });
    bar.append(prevButton, nextButton, position, status, spacer, pageLink, close);
    body = document.createElement("div");
    body.id = "viewer-body";
    body.className = "viewer-body";
    dialog.append(bar, body);
    document.body.appendChild(dialog);

    dialog.addEventListener("keydown", onKey);
    dialog.addEventListener("close", onClose);
    body.addEventListener("htmx:afterSettle", onSettled);
    body.addEventListener("htmx:responseError", function (event) {
      if (event.detail.target !== body) return;
      showError(event.detail.xhr.status === 404
        ? "This image is no longer available."
        : "The image could not be loaded. Try again, or open its page.");
    });
    body.addEventListener("htmx:sendError", function (event) {
      if (event.detail.target === body) showError("The portal cannot be reached. Try again in a moment.");
    });
  }

  function links() {
    return Array.prototype.filter.call(document.querySelectorAll("a[data-viewer]"), function (link) {
      return !dialog || !dialog.contains(link);
    });
  }

  // The shown image's place among the page's links. A live update may have re-rendered its card
  // meanwhile (a result arriving, a tab's socket catching up): the link with the same address,
  // now on the page, then stands for it.
  function indexOfCurrent(all) {
    var index = all.indexOf(current);
    if (index < 0 && current) {
      for (var i = 0; i < all.length; i++) {
        if (all[i].href === current.href) {
          current = all[i];
          return i;
        }
      }
    }
    return index;
  }

  function open(link) {
    if (!dialog) build();
    current = link;
    status.textContent = "";
    if (!dialog.open) dialog.showModal();
    load();
  }

  function load() {
    var all = links();
    var index = indexOfCurrent(all);
    prevButton.disabled = index <= 0;
    nextButton.disabled = index < 0 || index >= all.length - 1;
    position.textContent = all.length > 1 ? (index + 1) + " of " + all.length : "";
    pageLink.href = current.href;
    body.setAttribute("aria-busy", "true");
    window.htmx.ajax("GET", current.href, { target: body, swap: "innerHTML" });
  }

  function step(delta) {
    var all = links();
    var index = indexOfCurrent(all);
    var next = all[index + delta];
    if (!next) return;
    status.textContent = "";
    current = next;
    load();
    // The button pressed may just have been disabled (the first or last image): keep focus inside.
    if (document.activeElement && document.activeElement.disabled) {
      (delta < 0 ? nextButton : prevButton).focus();
    }
  }

  function showError(message) {
    body.removeAttribute("aria-busy");
    var note = document.createElement("p");
    note.className = "viewer-error notice is-error";
    note.setAttribute("role", "alert");
    note.textContent = message;
    body.replaceChildren(note);
  }

  function onSettled() {
    body.removeAttribute("aria-busy");
    startModelViewer();
    if (body.querySelector("[data-just-deleted]")) removeCurrent();
  }

  // <model-viewer> is a module loaded once, when a 3D model is first shown.
  function startModelViewer() {
    var model = body.querySelector("model-viewer[data-module]");
    if (!model || window.customElements.get("model-viewer") || document.querySelector("script[data-model-viewer]")) return;
    var script = document.createElement("script");
    script.type = "module";
    script.src = model.dataset.module;
    script.dataset.modelViewer = "";
    document.head.appendChild(script);
  }

  // The image went to the trash: its tile leaves the page and the viewer shows the next one.
  function removeCurrent() {
    var all = links();
    var index = indexOfCurrent(all);
    var next = all[index + 1] || all[index - 1] || null;
    var tile = current.closest(".tile") || current;
    tile.remove();
    tellThePage();
    if (!next) {
      current = null;
      dialog.close();
      return;
    }
    current = next;
    load();
    status.textContent = "Moved to the trash.";
    if (!dialog.contains(document.activeElement) || document.activeElement === document.body) {
      (nextButton.disabled ? prevButton : nextButton).focus();
    }
  }

  function tellThePage() {
    var notice = document.getElementById("gallery-notice");
    if (!notice) return;
    var trash = document.createElement("a");
    trash.href = (document.querySelector(".gallery-tabs a[href$='/trash/']") || { href: "/gallery/trash/" }).href;
    trash.textContent = "Open the trash";
    var text = document.createElement("span");
    text.textContent = "Moved to the trash.";
    notice.replaceChildren(text, trash);
    notice.classList.add("is-shown");
    notice.classList.remove("is-error");
  }

  // A modal dialog makes the page behind it inert, but Tab would still leave for the browser's own
  // controls: from the last control it comes back to the first, and Shift+Tab the other way.
  function keepFocusInside(event) {
    var focusable = Array.prototype.filter.call(dialog.querySelectorAll(
      "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), "
      + "textarea:not([disabled]), summary, video[controls], audio[controls], [tabindex]:not([tabindex='-1'])"
    ), function (element) { return element.getClientRects().length > 0; });
    if (!focusable.length) return;
    var first = focusable[0];
    var last = focusable[focusable.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  function onKey(event) {
    if (event.key === "Tab") {
      keepFocusInside(event);
      return;
    }
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    // Arrow keys that belong to what has focus: text fields, sliders, players, a 3D model.
    if (event.target.closest("input, textarea, select, [contenteditable], video, audio, model-viewer")) return;
    event.preventDefault();
    step(event.key === "ArrowLeft" ? -1 : 1);
  }

  function onClose() {
    body.replaceChildren(); // stops a playing video or clip
    status.textContent = "";
    var back = current && document.contains(current) ? current : null;
    if (!back) {
      back = document.getElementById("gallery-notice") || document.querySelector("main h1") || document.body;
      back.setAttribute("tabindex", "-1");
    }
    back.focus();
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var link = event.target.closest && event.target.closest("a[data-viewer]");
    if (!link || !window.htmx || typeof HTMLDialogElement === "undefined") return;
    if (dialog && dialog.contains(link)) return;
    event.preventDefault();
    open(link);
  });
})();
