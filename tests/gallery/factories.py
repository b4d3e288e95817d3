"""Images and tasks for the gallery's tests: real (tiny) files through the real store."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from PIL import Image as PILImage

from runware_web.media.models import Image
from runware_web.media.store import save_image
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
