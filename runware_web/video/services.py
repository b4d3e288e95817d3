"""The Video page's work: check a request, price it, start it through the runner, show its card.

A video takes minutes: it is sent with `deliveryMethod: "async"` and the runner polls getResponse
until it ends; the task survives the tab (the runner owns it), and every tab of the member follows
it over the page's socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.media.models import Image
from runware_web.media.video import save_video
from runware_web.money.prices import Estimate, quote
from runware_web.runner import parse_cost, runner
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from runware_web.video.forms import VideoForm

FEATURE = "video"
TASK_TYPE = "videoInference"
RECENT = 10


def video_tasks(user: User):
    return Task.objects.filter(user=user, feature=FEATURE)


def get_own_task(user: User, task_id: Any) -> Task:
    try:
        return video_tasks(user).get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such video task.") from None


@dataclass
class Card:
    """One video task as its card shows it."""

    task: Task
    videos: list[Image] = field(default_factory=list)
    progress: int | None = None  # percent, when Runware reported it

    @property
    def id(self) -> str:
        return str(self.task.pk)

    @property
    def is_active(self) -> bool:
        return self.task.is_active

    @property
    def elapsed(self) -> int:
        """Whole seconds since the task was sent (to its end, once ended)."""
        start = self.task.started_at or self.task.created_at
        end = self.task.finished_at or timezone.now()
        return max(0, int((end - start).total_seconds()))

    @property
    def waiting(self) -> range:
        """Placeholders for the videos still to come."""
        return range(max(0, self.task.number_results - len(self.videos)) if self.is_active else 0)


def card_for(task: Task, progress: int | None = None) -> Card:
    task = Task.objects.get(pk=task.pk)
    videos = list(task.images.filter(media_type=Image.MediaType.VIDEO).order_by("created_at"))
    return Card(task=task, videos=videos, progress=progress)


def recent_cards(user: User) -> list[Card]:
    return [card_for(task) for task in video_tasks(user).order_by("-created_at")[:RECENT]]


@dataclass
class Outcome:
    form: VideoForm
    task: Task | None = None
    refusal: str = ""


def estimate_for(form: VideoForm) -> Estimate | None:
    """What the request will cost (money's one price source), when the form is valid."""
    if not form.is_valid():
        return None
    params = form.params()
    return quote(TASK_TYPE, params, params["numberResults"])


async def generate(user: User, data: QueryDict, *,
                   on_start: Callable[[Task], Awaitable[None]] | None = None) -> Outcome:
    """Check a request and start it; bad input is refused on the form and nothing is sent."""
    form = VideoForm(data)
    estimate = await database_sync_to_async(estimate_for)(form)
    if estimate is None:
        return Outcome(form)
    params = form.params()
    try:
        task = await runner.submit(
            user=user, feature=FEATURE, task_type=TASK_TYPE, params=params,
            number_results=params["numberResults"], estimated_cost=estimate.amount, delivery="async",
            before_start=on_start,
        )
    except Refused as refusal:
        return Outcome(form, refusal=refusal.message)
    return Outcome(form, task=task)


async def cancel(user: User, task_id: Any) -> Task | None:
    """Stop waiting for one of the member's videos (Http404 for anyone else's); None if it had ended.
    Runware still bills what it started: a video that arrives later is saved and charged as usual."""
    await database_sync_to_async(get_own_task)(user, task_id)
    return await runner.cancel(user=user, task_id=task_id)


def store_result(task: Task, item: dict[str, Any], path: str) -> Image:
    """Keep one finished video (downloaded to `path`) in the member's library, with its cost."""
    cost: Decimal | None = parse_cost(item.get("cost"))
    return save_video(
        user=task.user, path=path, url=str(item.get("videoURL") or ""), task=task,
        prompt=str(task.params.get("positivePrompt", "")), model=task.model or str(task.params.get("model", "")),
        seed=item.get("seed") if isinstance(item.get("seed"), int) else None, cost=cost,
        runware_uuid=str(item.get("videoUUID") or ""),
    )


def is_stored(task_id: Any, runware_uuid: str) -> bool:
    video = Image.objects.filter(task_id=task_id, runware_uuid=runware_uuid[:64]).first() if runware_uuid else None
    return video is not None and video.file.storage.exists(video.file.name)
