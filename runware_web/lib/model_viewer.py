"""What the vendored <model-viewer> (static/vendor/model-viewer) needs beyond the portal's policy, on
the pages that show it (the 3D page; the gallery's pages, whose lightbox and detail page show a 3D
model): WebAssembly (three.js's meshopt decoder compiles its module on load, the Draco and Basis
decoders theirs when a model needs them; this allows compiling WebAssembly only, not JavaScript's
eval), the workers those two decode in (three.js starts them from blob: URLs it makes of the
portal's own decoder scripts, static/js/model-viewer-setup.js), and the one <style> of its shadow
DOM, by its hash (a new version of model-viewer may change it: the browser tests then report it).
Applied per view with django-csp's `csp_update`, or per response (`allow_model_viewer`)."""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpResponseBase

Response = TypeVar("Response", bound=HttpResponseBase)

MODEL_VIEWER_CSP = {
    "script-src": ["'wasm-unsafe-eval'"],
    "worker-src": ["'self'", "blob:"],
    "style-src": ["'sha256-PXtZZkJMMyc18o/DN1ZEFOJ2qEGq95IQbVaJFMOXOb0='"],
}


def allow_model_viewer(response: Response, *, shows_a_model: bool = True) -> Response:
    """`MODEL_VIEWER_CSP` added to this response's policy when the page can show a 3D model (on it or
    in its lightbox); every other page keeps the portal's strict policy (tests/hardening/test_csp.py)."""
    if shows_a_model:
        update = dict(getattr(response, "_csp_update", None) or {})
        for directive, sources in MODEL_VIEWER_CSP.items():
            update[directive] = [*update.get(directive, ()), *sources]
        response._csp_update = update  # type: ignore[attr-defined]  # django-csp's per-response update
    return response
