"""The Audio page's work: check a request, price it, start it through the runner, show its card.

A clip is sent with `deliveryMethod: "async"` (music may take a while) and the runner polls
getResponse until it ends; the task survives the tab (the runner owns it), and every tab of the
member follows it over the page's socket. Each clip is copied into the portal's storage as a
media item of type audio, with a picture of its waveform as its thumbnail.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.audio.catalogue import KIND_LABELS, MODELS
from runware_web.audio.clips import WAVE_SIZE, read_clip
from runware_web.audio.forms import AudioForm
from runware_web.live.media_tasks import Outcome, start_async
from runware_web.media.models import Image
from runware_web.media.store import save_downloaded
from runware_web.media.thumbnails import make_thumbnail
from runware_web.money.prices import Estimate, aquote
from runware_web.runner import parse_cost, runner
from runware_web.upstream.models import Task

FEATURE = "audio"
TASK_TYPE = "audioInference"
RECENT = 10
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "flac": "audio/flac"}


def audio_tasks(user: User):
    return Task.objects.filter(user=user, feature=FEATURE)


def get_own_task(user: User, task_id: Any) -> Task:
    try:
        return audio_tasks(user).get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such audio task.") from None


def words_of(params: dict[str, Any]) -> str:
    """What a request asked for: the text to speak, or the sound described."""
    speech = params.get("speech")
    if isinstance(speech, dict):
        return str(speech.get("text") or "")
    return str(params.get("positivePrompt") or "")


@dataclass
class Card:
    """One audio task as its card shows it."""

    task: Task
    clips: list[Image] = field(default_factory=list)
    progress: int | None = None  # percent, when Runware reported it

    @property
    def id(self) -> str:
        return str(self.task.pk)

    @property
    def is_active(self) -> bool:
        return self.task.is_active

    @property
    def words(self) -> str:
        return words_of(self.task.params)

    @property
    def kind(self) -> str:
        model = MODELS.get(self.task.model or str(self.task.params.get("model", "")))
        if model is not None:
            return KIND_LABELS[model.kind]
        return "Speech" if isinstance(self.task.params.get("speech"), dict) else "Sound"

    @property
    def voice(self) -> str:
        speech = self.task.params.get("speech")
        return str(speech.get("voice") or "").replace("_", " ") if isinstance(speech, dict) else ""

    @property
    def elapsed(self) -> int:
        """Whole seconds since the task was sent (to its end, once ended)."""
        start = self.task.started_at or self.task.created_at
        end = self.task.finished_at or timezone.now()
        return max(0, int((end - start).total_seconds()))

    @property
    def waiting(self) -> range:
        """Placeholders for the clips still to come."""
        return range(max(0, self.task.number_results - len(self.clips)) if self.is_active else 0)


def card_for(task: Task, progress: int | None = None) -> Card:
    task = Task.objects.get(pk=task.pk)
    clips = list(task.images.filter(media_type=Image.MediaType.AUDIO).order_by("created_at"))
    return Card(task=task, clips=clips, progress=progress)


def recent_cards(user: User) -> list[Card]:
    return [card_for(task) for task in audio_tasks(user).order_by("-created_at")[:RECENT]]



async def estimate_for(form: AudioForm) -> Estimate | None:
    """What the request will cost (money's one price source, with the model's price in Runware's
    catalogue looked up first), when the form is valid: what the page shows is what is reserved."""
    if not await database_sync_to_async(form.is_valid)():
        return None
    params = form.params()
    return await aquote(TASK_TYPE, params, params["numberResults"])


async def generate(
    user: User, data: QueryDict, *, on_start: Callable[[Task], Awaitable[None]] | None = None
) -> Outcome:
    """Check a request and start it; bad input is refused on the form and nothing is sent."""
    form = AudioForm(data, user=user)
    estimate = await estimate_for(form)
    return await start_async(user, FEATURE, TASK_TYPE, form, estimate, on_start)


async def cancel(user: User, task_id: Any) -> Task | None:
    """Stop waiting for one of the member's clips (Http404 for anyone else's); None if it had ended.
    Runware still bills what it started: a clip that arrives later is saved and charged as usual."""
    await database_sync_to_async(get_own_task)(user, task_id)
    return await runner.cancel(user=user, task_id=task_id)


def store_result(task: Task, item: dict[str, Any], path: str) -> Image:
    """Keep one finished clip (downloaded to `path`) in the member's library, with its cost and its
    waveform as the thumbnail (sync)."""
    url = str(item.get("audioURL") or "")
    extension = os.path.splitext(url.split("?", 1)[0])[1].lstrip(".").lower()
    if extension not in CONTENT_TYPES:
        extension = str(task.params.get("outputFormat") or "MP3").lower()
    clip = read_clip(path)
    seed = item.get("seed")
    audio = Image(
        user=task.user,
        task=task,
        kind=Image.Kind.GENERATED,
        media_type=Image.MediaType.AUDIO,
        content_type=CONTENT_TYPES.get(extension, "audio/mpeg"),
        width=WAVE_SIZE[0],
        height=WAVE_SIZE[1],
        duration=clip.duration,
        size_bytes=os.path.getsize(path),
        prompt=words_of(task.params),
        model=(task.model or str(task.params.get("model", "")))[:200],
        seed=seed if isinstance(seed, int) else None,
        cost=parse_cost(item.get("cost")),
        runware_uuid=str(item.get("audioUUID") or "")[:64],
        created_at=timezone.now(),
    )
    save_downloaded(audio, path, make_thumbnail(clip.waveform))
    return audio
