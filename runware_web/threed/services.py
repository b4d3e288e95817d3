"""The 3D page's work: check a request, price it, start it through the runner, show its card.

A 3D model takes a while: it is sent with `deliveryMethod: "async"` and the runner polls
getResponse until it ends; the task survives the tab (the runner owns it), and every tab of the
member follows it over the page's socket. Each model (a GLB) is copied into the portal's storage
as a media item of type 3d, with a picture of it drawn by the portal (threed.meshes) as its
thumbnail.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.live.media_tasks import Outcome, start_async
from runware_web.media.models import Image
from runware_web.media.refs import referenced_image
from runware_web.media.store import save_downloaded
from runware_web.media.thumbnails import make_thumbnail
from runware_web.money.prices import Estimate, aquote
from runware_web.runner import parse_cost, runner
from runware_web.threed.forms import ThreeDForm
from runware_web.threed.meshes import THUMB_SIDE, thumbnail
from runware_web.upstream.models import Task

FEATURE = "threed"
TASK_TYPE = "3dInference"
RECENT = 10
CONTENT_TYPE = "model/gltf-binary"


def threed_tasks(user: User):
    return Task.objects.filter(user=user, feature=FEATURE)


def get_own_task(user: User, task_id: Any) -> Task:
    try:
        return threed_tasks(user).get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such 3D task.") from None


def output_file(item: dict[str, Any]) -> dict[str, Any]:
    """The GLB of a result: `outputs.files[0]` ({uuid, url, format}), or {} when there is none."""
    outputs = item.get("outputs")
    files = outputs.get("files") if isinstance(outputs, dict) else None
    first = files[0] if isinstance(files, list) and files else None
    return first if isinstance(first, dict) else {}


@dataclass
class Card:
    """One 3D task as its card shows it."""

    task: Task
    models: list[Image] = field(default_factory=list)
    progress: int | None = None  # percent, when Runware reported it
    source: Image | None = None  # the image it started from, while the member still has it

    @property
    def id(self) -> str:
        return str(self.task.pk)

    @property
    def is_active(self) -> bool:
        return self.task.is_active

    @property
    def words(self) -> str:
        prompt = str(self.task.params.get("positivePrompt") or "")
        return prompt or "From an image"

    @property
    def elapsed(self) -> int:
        """Whole seconds since the task was sent (to its end, once ended)."""
        start = self.task.started_at or self.task.created_at
        end = self.task.finished_at or timezone.now()
        return max(0, int((end - start).total_seconds()))

    @property
    def waiting(self) -> range:
        """Placeholders for the models still to come."""
        return range(max(0, self.task.number_results - len(self.models)) if self.is_active else 0)


def card_for(task: Task, progress: int | None = None) -> Card:
    task = Task.objects.get(pk=task.pk)
    models = list(task.images.filter(media_type=Image.MediaType.MODEL_3D).order_by("created_at"))
    return Card(task=task, models=models, progress=progress, source=_source(task))


def _source(task: Task) -> Image | None:
    reference = (task.params.get("inputs") or {}).get("image")
    try:
        image = referenced_image(task.user_id, reference)
    except Exception:  # no longer in the gallery: the card says nothing of it
        return None
    return image if image is not None and image.deleted_at is None else None


def recent_cards(user: User) -> list[Card]:
    return [card_for(task) for task in threed_tasks(user).order_by("-created_at")[:RECENT]]



async def checked(user: User, data: Mapping[str, Any] | None) -> tuple[ThreeDForm, Estimate | None]:
    """The form for `data` (the member's images its choices) and, when it is valid, what the
    request will cost (money's one price source, with the model's price in Runware's catalogue
    looked up first): what the page shows is what admission reserves."""
    form = await database_sync_to_async(_bound_form)(user, data)
    if not form.is_valid():
        return form, None
    params = form.params()
    return form, await aquote(TASK_TYPE, params, params["numberResults"])


def _bound_form(user: User, data: Mapping[str, Any] | None) -> ThreeDForm:
    """The form, checked (its choices are the member's images: read here, in sync code)."""
    form = ThreeDForm(data, user=user)
    form.is_valid()
    return form


async def generate(
    user: User, data: QueryDict, *, on_start: Callable[[Task], Awaitable[None]] | None = None
) -> Outcome:
    """Check a request and start it; bad input is refused on the form and nothing is sent."""
    form, estimate = await checked(user, data)
    return await start_async(user, FEATURE, TASK_TYPE, form, estimate, on_start)


async def cancel(user: User, task_id: Any) -> Task | None:
    """Stop waiting for one of the member's 3D models (Http404 for anyone else's); None if it had
    ended. Runware still bills what it started: a model that arrives later is saved and charged."""
    await database_sync_to_async(get_own_task)(user, task_id)
    return await runner.cancel(user=user, task_id=task_id)


def store_result(task: Task, item: dict[str, Any], path: str) -> Image:
    """Keep one finished model (a GLB downloaded to `path`) in the member's library, with its cost
    and a picture of it as its thumbnail (sync)."""
    with open(path, "rb") as handle:
        picture = thumbnail(handle.read())
    seed = item.get("seed")
    mesh = Image(
        user=task.user,
        task=task,
        kind=Image.Kind.GENERATED,
        media_type=Image.MediaType.MODEL_3D,
        content_type=CONTENT_TYPE,
        width=THUMB_SIDE,
        height=THUMB_SIDE,
        size_bytes=os.path.getsize(path),
        prompt=str(task.params.get("positivePrompt") or ""),
        model=(task.model or str(task.params.get("model", "")))[:200],
        seed=seed if isinstance(seed, int) else None,
        cost=parse_cost(item.get("cost")),
        runware_uuid=str(output_file(item).get("uuid") or "")[:64],
        created_at=timezone.now(),
    )
    save_downloaded(mesh, path, make_thumbnail(picture))
    return mesh
