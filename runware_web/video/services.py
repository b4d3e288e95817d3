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
from runware_web.live.media_tasks import Outcome, start_async
from runware_web.media.access import get_own_image
from runware_web.media.models import Image
from runware_web.media.refs import IMAGE_REF_PREFIX, image_ref
from runware_web.media.video import save_video
from runware_web.money.prices import Estimate, aquote
from runware_web.runner import parse_cost, runner
from runware_web.upstream.models import Task
from runware_web.video.forms import VideoForm
from runware_web.video.models import VideoCaption

FEATURE = "video"
TASK_TYPE = "videoInference"
RECENT = 10


@dataclass(frozen=True)
class VideoTool:
    """Caption, upscale or remove the background of one of the member's videos (`inputs.video`)."""

    task_type: str
    label: str  # the button
    title: str  # the card: "<title> “<prompt>”"
    model: str
    kind: str  # the gallery kind of the video it makes ("" for a caption)
    extra: tuple[tuple[str, Any], ...] = ()


TOOLS: dict[str, VideoTool] = {
    tool.task_type: tool
    for tool in (
        VideoTool("caption", "Caption", "Caption of", "runware:152@2", ""),
        VideoTool(
            "upscale",
            "Upscale 2×",
            "Upscaled",
            "bytedance:video-enhancement@standard",
            Image.Kind.UPSCALED,
            (("upscaleFactor", 2), ("outputFormat", "MP4"), ("outputType", "URL")),
        ),
        VideoTool(
            "removeBackground",
            "Remove background",
            "Background removed from",
            "bria:51@1",
            Image.Kind.BACKGROUND_REMOVED,
            (("outputFormat", "WEBM"), ("outputType", "URL")),
        ),
    )
}
# The runner sends the video inline (a data URI of its bytes), so a tool takes videos up to this size.
TOOL_MAX_BYTES = 64 * 1024 * 1024


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

    caption: str | None = None  # a caption task's text, once written

    @property
    def prompt(self) -> str:
        return prompt_of(self.task)

    @property
    def tools(self) -> list[VideoTool]:
        """The tools offered on each of the card's videos."""
        return list(TOOLS.values())

    @property
    def tool(self) -> VideoTool | None:
        return TOOLS.get(self.task.task_type)

    @property
    def source(self) -> Image | None:
        """The video a tool worked on."""
        return source_of(self.task)

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
    caption = VideoCaption.objects.filter(task=task).values_list("text", flat=True).first()
    return Card(task=task, videos=videos, progress=progress, caption=caption)


def recent_cards(user: User) -> list[Card]:
    return [card_for(task) for task in video_tasks(user).order_by("-created_at")[:RECENT]]



async def estimate_for(form: VideoForm) -> Estimate | None:
    """What the request will cost (money's one price source, with the model's price in Runware's
    catalogue looked up first), when the form is valid: what the page shows is what is reserved."""
    if not await database_sync_to_async(form.is_valid)():  # reads the member's frame pictures
        return None
    params = form.params()
    return await aquote(TASK_TYPE, params, params["numberResults"])


async def generate(
    user: User, data: QueryDict, *, on_start: Callable[[Task], Awaitable[None]] | None = None
) -> Outcome:
    """Check a request and start it; bad input is refused on the form and nothing is sent. The price
    is looked up before admission, which reserves that same estimate."""
    form = await database_sync_to_async(VideoForm)(data, user=user)  # reads the member's images
    estimate = await estimate_for(form)
    return await start_async(user, FEATURE, TASK_TYPE, form, estimate, on_start)


async def cancel(user: User, task_id: Any) -> Task | None:
    """Stop waiting for one of the member's videos (Http404 for anyone else's); None if it had ended.
    Runware still bills what it started: a video that arrives later is saved and charged as usual."""
    await database_sync_to_async(get_own_task)(user, task_id)
    return await runner.cancel(user=user, task_id=task_id)


def store_result(task: Task, item: dict[str, Any], path: str) -> Image:
    """Keep one finished video (downloaded to `path`) in the member's library, with its cost; a tool's
    video is linked to the video it was made from."""
    cost: Decimal | None = parse_cost(item.get("cost"))
    tool = TOOLS.get(task.task_type)
    source = source_of(task)
    return save_video(
        user=task.user,
        path=path,
        url=str(item.get("videoURL") or ""),
        task=task,
        prompt=prompt_of(task),
        model=task.model or str(task.params.get("model", "")),
        seed=item.get("seed") if isinstance(item.get("seed"), int) else None,
        cost=cost,
        runware_uuid=str(item.get("videoUUID") or ""),
        kind=tool.kind if tool else Image.Kind.GENERATED,
        source=source,
    )


def store_caption(task: Task, item: dict[str, Any]) -> VideoCaption:
    """Keep a caption task's text, linked to the video it describes (once, whoever delivers it)."""
    caption, _ = VideoCaption.objects.get_or_create(
        task=task, defaults={"user": task.user, "video": source_of(task), "text": str(item.get("text") or "")}
    )
    return caption


# ------------------------------------------------------------------------ video tools


class ToolRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _tool_request(user: User, task_type: Any, video_id: Any) -> tuple[VideoTool, Image, dict[str, Any]]:
    """What to send for a tool on one of the member's videos (Http404 for anyone else's)."""
    video = get_own_image(user, video_id)
    tool = TOOLS.get(str(task_type))
    if tool is None:
        raise ToolRefused("There is no such video tool.")
    if video.media_type != Image.MediaType.VIDEO:
        raise ToolRefused(
            f"{tool.label} works on videos; this is a picture (use the Tools page for pictures)."
        )
    if video.size_bytes > TOOL_MAX_BYTES:
        raise ToolRefused(
            f"This video is {video.size_bytes // (1024 * 1024)} MB; the video tools take videos "
            f"up to {TOOL_MAX_BYTES // (1024 * 1024)} MB."
        )
    params: dict[str, Any] = {"model": tool.model, "inputs": {"video": image_ref(video)}, **dict(tool.extra)}
    return tool, video, params


async def run_tool(
    user: User, task_type: Any, video_id: Any, *, on_start: Callable[[Task], Awaitable[None]] | None = None
) -> Task:
    """Caption, upscale or remove the background of one of the member's videos; its card follows it
    like a video's. Raises Http404 (not theirs), ToolRefused or Refused (budget, rate)."""
    tool, video, params = await database_sync_to_async(_tool_request)(user, task_type, video_id)
    # The catalogue's price per second × the video's length (the last known price while the catalogue
    # cannot be reached), looked up before admission, never inside it.
    estimate = await aquote(tool.task_type, params, 1, input_seconds=video.duration)
    return await runner.submit(
        user=user,
        feature=FEATURE,
        task_type=tool.task_type,
        params=params,
        number_results=1,
        estimated_cost=estimate.amount,
        delivery="async",
        before_start=on_start,
    )


def source_of(task: Task) -> Image | None:
    """The member's video a tool task works on (named by reference in its `inputs.video`)."""
    reference = str((task.params.get("inputs") or {}).get("video") or "")
    if task.task_type not in TOOLS or not reference.startswith(IMAGE_REF_PREFIX):
        return None
    try:
        return Image.objects.filter(pk=reference.removeprefix(IMAGE_REF_PREFIX), user_id=task.user_id).first()
    except ValidationError:
        return None


def prompt_of(task: Task) -> str:
    """What a video task's card and its videos are called: its prompt, or what it started from."""
    if task.task_type in TOOLS:
        source = source_of(task)
        return source.prompt if source is not None and source.prompt else "a video"
    if prompt := str(task.params.get("positivePrompt") or ""):
        return prompt
    frames = (task.params.get("inputs") or {}).get("frameImages") or []
    return "From a first and a last frame" if len(frames) > 1 else "From a first frame" if frames else ""
