"""The decoders a compressed GLB needs (Draco meshes, KTX2/Basis textures, meshopt buffers) come from
the portal's own static files (static/vendor/model-viewer), never from Google's CDN, which
model-viewer uses by default and the portal's CSP blocks: a Draco-compressed model is shown.

The Draco GLB is made from the simulator's own model by glTF Transform and Google's Draco encoder,
npm packages installed into a directory outside the checkout, kept between runs
(`RUNWARE_WEB_NPM_CACHE`, by default ~/.cache/runware-web/npm), as tests/endpoint/test_sdk_js.py
installs the JavaScript SDK. Without node and npm that test is skipped; when the registry cannot be
reached it is skipped too, except in CI (`CI` set), where that is a failure.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from runware_web.media.models import Image
from runware_web.simulator import mesh
from runware_web.threed import services
from tests import npm
from tests.browser import log_in
from tests.conftest import make_user
from tests.gallery.factories import make_mesh, make_task

VENDOR = "vendor/model-viewer/"
# What model-viewer asks for, by these names, under the locations static/js/model-viewer-setup.js gives it.
DECODERS = {
    "draco/draco_wasm_wrapper.js": "javascript",
    "draco/draco_decoder.wasm": "application/wasm",
    "basis/basis_transcoder.js": "javascript",
    "basis/basis_transcoder.wasm": "application/wasm",
    "meshopt/meshopt_decoder.js": "javascript",
}

PACKAGES = {"@gltf-transform/core": "4.5.1", "@gltf-transform/extensions": "4.5.1", "draco3dgltf": "1.5.7"}

# Reads a GLB, compresses its meshes with Draco (KHR_draco_mesh_compression, required), writes it.
COMPRESS = """
import { NodeIO } from "@gltf-transform/core";
import { KHRDracoMeshCompression } from "@gltf-transform/extensions";
import draco3d from "draco3dgltf";
const io = new NodeIO().registerExtensions([KHRDracoMeshCompression]).registerDependencies({
  "draco3d.encoder": await draco3d.createEncoderModule(),
  "draco3d.decoder": await draco3d.createDecoderModule(),
});
const document = await io.read(process.argv[2]);
document.createExtension(KHRDracoMeshCompression).setRequired(true);
await io.write(process.argv[3], document);
"""

# WebGL in headless Chromium runs on the CPU (see test_browser.py): loading takes seconds, or a minute.
VIEWER_LOADS_WITHIN = 100_000


@pytest.mark.parametrize("name", DECODERS)
def test_each_decoder_is_served_by_the_portal_where_model_viewer_looks_for_it(client, name):
    response = client.get(f"{settings.STATIC_URL}{VENDOR}{name}")

    assert response.status_code == 200
    assert DECODERS[name] in response["Content-Type"]
    with open(finders.find(VENDOR + name), "rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()


@pytest.mark.django_db(transaction=True)
def test_the_pages_that_show_a_model_point_model_viewer_at_the_portals_decoders_and_allow_them(
    alice_client, user, tmp_path
):
    mesh_page = f"/gallery/{make_mesh(user, tmp_path).pk}/"
    for url in ("/3d/", mesh_page, "/gallery/"):
        response = alice_client.get(url)
        html = response.content.decode()
        setup = html.index('js/model-viewer-setup.js"')
        assert setup < html.index('js/viewer.js"'), url  # its lightbox loads model-viewer on any page
        if url != "/gallery/":
            assert setup < html.index('vendor/model-viewer/model-viewer.min.js"'), url
        policy = response["Content-Security-Policy"]
        assert "'wasm-unsafe-eval'" in policy, url  # the decoders are WebAssembly
        assert "worker-src 'self' blob:" in policy, url  # three.js decodes in workers made from blob: URLs


# ------------------------------------------------------------------------- a Draco-compressed model


@pytest.fixture(scope="session")
def draco_compressor() -> Path:
    """A node script that Draco-compresses a GLB, with its packages installed once (and kept) outside the checkout."""
    where = npm.required("gltf-transform-" + PACKAGES["@gltf-transform/core"], PACKAGES,
                         without="no Draco-compressed model can be made")
    return npm.place(where, "compress.mjs", COMPRESS)


def draco_mesh(user: Any, compressor: Path, tmp_path: Path, prompt: str = "a compressed teapot") -> Image:
    """The simulator's model of `prompt`, Draco-compressed, stored as the 3D page stores a result."""
    model = "tencent:hunyuan-3d@3.1-rapid"
    params = {"model": model, "positivePrompt": prompt, "numberResults": 1, "outputType": "URL"}
    task = make_task(user, feature="threed", task_type="3dInference", model=model, params=params)
    plain, compressed = tmp_path / "plain.glb", tmp_path / "draco.glb"
    plain.write_bytes(mesh.from_prompt(model, prompt, 5))
    subprocess.run(["node", str(compressor), str(plain), str(compressed)], check=True, timeout=120)
    assert b"KHR_draco_mesh_compression" in compressed.read_bytes()
    item = {"outputs": {"files": [{"uuid": "m-1", "url": "https://x/mesh.glb", "format": "GLB"}]}, "seed": 5}
    return services.store_result(task, item, str(compressed))


def loaded(selector: str) -> str:
    """Whether the model-viewer at `selector` has loaded its model and shows it (its own properties)."""
    return f"""() => {{
      const viewer = document.querySelector({json.dumps(selector)});
      return viewer !== null && viewer.loaded === true && viewer.modelIsVisible === true;
    }}"""


def record_requests(page) -> list[str]:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return requests


def outside(requests: list[str], origin: str) -> list[str]:
    return [url for url in requests if not url.startswith((origin + "/", "data:", "blob:"))]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_a_draco_compressed_model_is_shown_on_its_page_with_the_portals_own_decoder(
    new_page, live_server_url, draco_compressor, tmp_path
):
    alice = make_user("alice")
    stored = draco_mesh(alice, draco_compressor, tmp_path)
    page = new_page(viewport={"width": 1280, "height": 900})
    requests = record_requests(page)
    log_in(page, "alice")

    page.goto(f"/gallery/{stored.pk}/")
    page.wait_for_function(loaded(".image-page model-viewer"), timeout=VIEWER_LOADS_WITHIN)

    decoder = f"{live_server_url}{settings.STATIC_URL}{VENDOR}draco/draco_decoder.wasm"
    assert decoder in requests  # the model needed Draco, and the portal's copy decoded it
    assert outside(requests, live_server_url) == []  # nothing from a CDN


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_a_draco_compressed_model_opens_in_the_galleries_viewer(new_page, live_server_url, draco_compressor, tmp_path):
    alice = make_user("alice")
    stored = draco_mesh(alice, draco_compressor, tmp_path)
    page = new_page(viewport={"width": 1280, "height": 900})
    requests = record_requests(page)
    log_in(page, "alice")

    page.goto("/gallery/")
    page.locator(f'a[data-viewer][href="/gallery/{stored.pk}/"]').click()
    page.wait_for_function(loaded("dialog.viewer[open] model-viewer"), timeout=VIEWER_LOADS_WITHIN)

    assert f"{live_server_url}{settings.STATIC_URL}{VENDOR}draco/draco_decoder.wasm" in requests
    assert outside(requests, live_server_url) == []
