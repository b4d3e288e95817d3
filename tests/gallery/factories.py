"""Images and tasks for the gallery's tests: real (tiny) files through the real store."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from PIL import Image as PILImage

from runware_web.audio import services as audio_services
from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.media.video import save_video
from runware_web.simulator import audio, mesh, video
from runware_web.threed import services as threed_services
from runware_web.upstream.models import Task


def png_bytes(colour: tuple[int, int, int] = (200, 120, 40), size: tuple[int, int] = (48, 32)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def make_task(user: Any, **fields: Any) -> Task:
    prompt = fields.pop("prompt", "a lighthouse at dusk")
    model = fields.pop("model", "runware:101@1")
    defaults: dict[str, Any] = {
        "feature": "studio",
        "task_type": "imageInference",
        "model": model,
        "params": {"model": model, "positivePrompt": prompt, "width": 1024, "height": 768, "steps": 28,
                   "CFGScale": 3.5, "numberResults": 1},
        "status": Task.Status.DONE,
        "cost": Decimal("0.0041"),
    }
    defaults.update(fields)
    return Task.objects.create(user=user, team_id=user.team_id, **defaults)


def make_image(
    user: Any,
    prompt: str = "a lighthouse at dusk, oil painting",
    *,
    created_at: datetime | None = None,
    with_task: bool = True,
    **fields: Any,
) -> Image:
    """An image saved through the store (file + thumbnail), optionally made by a task."""
    model = fields.pop("model", "runware:101@1")
    task = fields.pop("task", None)
    if task is None and with_task:
        task = make_task(user, prompt=prompt, model=model)
    image = save_image(
        user=user, data=png_bytes(), task=task, prompt=prompt, model=model,
        seed=fields.pop("seed", 401337), cost=fields.pop("cost", Decimal("0.0041")),
        kind=fields.pop("kind", Image.Kind.GENERATED),
    )
    changes = {"created_at": created_at, **fields}
    changes = {name: value for name, value in changes.items() if value is not None or name == "deleted_at"}
    if changes:
        Image.objects.filter(pk=image.pk).update(**changes)
        image.refresh_from_db()
    return image


def images_over_days(user: Any, count: int, **fields: Any) -> list[Image]:
    """`count` images, one a day going back from today, newest first."""
    now = timezone.now()
    return [
        make_image(user, f"picture number {n}", created_at=now - timedelta(days=n), with_task=False, **fields)
        for n in range(count)
    ]


# ---------------------------------------------------------------------------- videos, clips, 3D models
# Real small files from the simulator's own encoders, stored as each feature stores its results.


def make_video(user: Any, tmp_path: Any, prompt: str = "a spinning top", *, params: dict[str, Any] | None = None,
               seed: int | None = 4242) -> Image:
    model = "alibaba:wan@2.6"
    params = params or {"model": model, "positivePrompt": prompt, "duration": 5, "width": 1280, "height": 720,
                        "numberResults": 1, "outputFormat": "MP4", "outputType": "URL"}
    task = make_task(user, feature="video", task_type="videoInference", model=params["model"], params=params)
    path = tmp_path / f"video-{task.pk}.mp4"
    path.write_bytes(video.render_clip(video.ClipSpec(model, prompt, "", 7, 96, 64, 1, 8)))
    return save_video(user=user, path=str(path), url="https://x/clip.mp4", task=task, prompt=prompt,
                      model=params["model"], seed=seed, cost=Decimal("0.05"))


def make_clip(user: Any, tmp_path: Any, words: str = "hello there", *, params: dict[str, Any] | None = None,
              seed: int | None = 77) -> Image:
    params = params or {"model": "elevenlabs:25@1", "speech": {"text": words, "voice": "Bella"},
                        "numberResults": 1, "outputFormat": "WAV", "outputType": "URL"}
    task = make_task(user, feature="audio", task_type="audioInference", model=params["model"], params=params)
    path = tmp_path / f"clip-{task.pk}.wav"
    path.write_bytes(audio.encode(audio.speech(words, "Bella", params["model"], 3), "WAV"))
    return audio_services.store_result(task, {"audioURL": "https://x/clip.wav", "seed": seed, "cost": 0.002}, str(path))


def make_mesh(user: Any, tmp_path: Any, prompt: str = "a teapot") -> Image:
    model = "tencent:hunyuan-3d@3.1-rapid"
    params = {"model": model, "positivePrompt": prompt, "numberResults": 1, "outputType": "URL"}
    task = make_task(user, feature="threed", task_type="3dInference", model=model, params=params)
    path = tmp_path / f"mesh-{task.pk}.glb"
    path.write_bytes(mesh.from_prompt(model, prompt, 5))
    item = {"outputs": {"files": [{"uuid": "m-1", "url": "https://x/mesh.glb", "format": "GLB"}]}, "seed": 5}
    return threed_services.store_result(task, item, str(path))
