"""The official JavaScript SDK, `@runware/sdk-js` 1.3.2, pointed at the portal with a member's key.

The package comes from the npm registry into a directory outside the checkout, kept between runs
(`RUNWARE_WEB_NPM_CACHE`, by default ~/.cache/runware-web/npm): CI caches that directory. Without
node and npm the tests are skipped; when the registry cannot be reached they are skipped too,
except in CI (`CI` set), where that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from runware_web.endpoint.models import EndpointCall, TextOutput
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests import npm
from tests.endpoint.helpers import amember_with_key, eventually

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE, VERSION = "@runware/sdk-js", "1.3.2"

SCRIPT = """
const { Runware } = await import(process.env.SDK_ENTRY);
const runware = new Runware({ apiKey: process.env.RUNWARE_KEY, url: process.env.RUNWARE_URL,
                              shouldReconnect: false, globalMaxRetries: 0, timeoutDuration: 30000 });
const out = {};
try {
  await runware.ensureConnection();
  out.images = await runware.imageInference({ positivePrompt: "a lighthouse at dusk", model: "runware:101@1",
                                              width: 512, height: 512, steps: 4, numberResults: 2 });
  out.text = await runware.textInference({ model: "google:gemma@4-31b",
                                           messages: [{ role: "user", content: "Say hello" }] });
} catch (error) {
  out.error = error?.error ?? error?.message ?? error;
}
console.log(JSON.stringify(out));
await runware.disconnect();
process.exit(0);
"""


@pytest.fixture(scope="session")
def sdk_js_entry() -> Path:
    """The SDK's ES module entry point, installed once (and kept) outside the checkout."""
    where = npm.required(f"sdk-js-{VERSION}", {PACKAGE: VERSION}, without="the JavaScript SDK cannot be run")
    return where / "node_modules" / "@runware" / "sdk-js" / "dist" / "index.js"


async def run_node(entry: Path, url: str, key: str, tmp_path: Path) -> dict:
    script = tmp_path / "script.mjs"
    script.write_text(SCRIPT)
    env = {**os.environ, "SDK_ENTRY": entry.as_uri(), "RUNWARE_URL": url, "RUNWARE_KEY": key}
    process = await asyncio.create_subprocess_exec(
        "node", str(script), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
    assert lines, f"node printed no result: {stdout.decode()[-1000:]} {stderr.decode()[-1000:]}"
    return json.loads(lines[-1])


async def test_the_javascript_sdk_generates_and_chats_through_the_portal(live_server_url, sdk_js_entry, tmp_path):
    member, _, plaintext = await amember_with_key(key_name="node script")
    out = await run_node(sdk_js_entry, live_server_url.replace("http://", "ws://") + "/v1", plaintext, tmp_path)

    assert "error" not in out, out["error"]
    assert len(out["images"]) == 2
    assert all(image["imageURL"].startswith(live_server_url + "/v1/media/") for image in out["images"])
    text = out["text"][0] if isinstance(out["text"], list) else out["text"]
    assert "Gemma" in text["text"]

    await eventually(lambda: not Task.objects.filter(user=member, finished_at__isnull=True).exists())

    def recorded():
        return {
            "tasks": sorted((task.task_type, task.feature, task.status, task.results_received)
                            for task in Task.objects.filter(user=member)),
            "keys": set(EndpointCall.objects.filter(user=member).values_list("key_name", flat=True)),
            "charges": Charge.objects.filter(user=member).count(),
            "gallery": {str(pk) for pk in Image.objects.filter(user=member).values_list("pk", flat=True)},
            "texts": [item["text"] for item in TextOutput.objects.filter(task__user=member).values_list("item", flat=True)],
        }

    seen = await database_sync_to_async(recorded)()
    assert seen["tasks"] == [("imageInference", "endpoint", "done", 2), ("textInference", "endpoint", "done", 1)]
    assert seen["keys"] == {"node script"}
    assert seen["charges"] == 3
    assert seen["gallery"] == {image["imageUUID"] for image in out["images"]}
    assert seen["texts"] == [text["text"]]


async def test_the_javascript_sdk_with_an_unknown_key_is_refused_and_nothing_runs(live_server_url, sdk_js_entry, tmp_path):
    _, _, plaintext = await amember_with_key()
    out = await run_node(sdk_js_entry, live_server_url.replace("http://", "ws://") + "/v1", plaintext[:-4] + "xxxx",
                         tmp_path)
    assert out["error"]["code"] == "invalidApiKey"
    assert await database_sync_to_async(Task.objects.count)() == 0
