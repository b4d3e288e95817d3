"""What the studio does: starting a generation, saving its results, pre-filling the form.

`generate` is the entry point of the socket and of the plain POST alike. Everything else here is
synchronous database work: the consumer and the handler call it through `database_sync_to_async`,
async views through `sync_to_async`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, QueryDict

from runware_web.accounts.models import User
from runware_web.lib.paging import Cursor, keyset_page
from runware_web.media.access import get_image_for_viewer, get_own_image
from runware_web.media.models import Image
from runware_web.media.pending import waiting_for, waiting_of
from runware_web.media.refs import image_ref
from runware_web.media.store import Upload, save_image, save_upload
from runware_web.media.uploads import CheckedImage, ImageUploadField
from runware_web.money.prices import Estimate, quote
from runware_web.runner import parse_cost, runner
from runware_web.studio.forms import GenerateForm, StudioForm
from runware_web.studio.models import Generation
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from runware_web.upstream.models_catalogue import known_defaults, model_defaults

FEATURE = "studio"
RECENT_GENERATIONS = 12
IMAGE_TARGETS = ("seedImage", "maskImage", "controlnet_guide")
MISSING_IMAGE = "That image is not in your gallery (any more). Upload it again."


# ---------------------------------------------------------------------------- tasks and cards


def studio_tasks(user: User):
    return Task.objects.filter(user=user, feature=FEATURE)


def get_own_task(user: User, task_id: Any) -> Task:
    """One of the member's studio tasks, else 404 (another member's id is not found either)."""
    try:
        return studio_tasks(user).get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such generation.") from None


@dataclass
class Slot:
    index: int
    # "image" | "pending" (billed, waiting for room in storage) | "missing" (billed, but its
    # image could not be stored) | "waiting"
    state: str
    image: Image | None = None


@dataclass
class Card:
    """One generation as the results area shows it."""

    task: Task
    images: list[Image]
    stored: int  # images saved for this task, including any moved to the trash since
    waiting_count: int | None = None  # images billed and kept until there is room (None: not read yet)

    @property
    def id(self) -> str:
        return str(self.task.pk)

    @property
    def prompt(self) -> str:
        return str(self.task.params.get("positivePrompt", ""))

    @property
    def is_active(self) -> bool:
        return self.task.is_active

    @property
    def uses(self) -> list[str]:
        """What the generation used beyond a prompt, in words for its card: the image mode
        (inpainting and outpainting are not "from a seed image"), each ControlNet with its model,
        and the refiner."""
        params = self.task.params
        uses = []
        if params.get("outpaint"):
            uses.append("outpainting")
        elif params.get("maskImage"):
            uses.append("inpainting")
        elif params.get("seedImage"):
            uses.append("image to image")
        for row in params.get("controlNet") or []:
            uses.append(f"ControlNet {row.get('model', '')}".strip())
        if refiner := params.get("refiner"):
            step = f" from step {refiner['startStep']}" if refiner.get("startStep") else ""
            uses.append(f"refiner {refiner.get('model', '')}{step}")
        return uses

    @property
    def received(self) -> int:
        return self.task.results_received

    @property
    def still_running_upstream(self) -> bool:
        return self.task.status == Task.Status.CANCELLED and self.task.finished_at is None

    @property
    def waiting(self) -> int:
        """Images Runware made and billed that wait for room in the portal's storage (the runner
        stores them once there is room)."""
        if self.waiting_count is None:
            self.waiting_count = waiting_of(self.task.pk)
        return self.waiting_count

    @property
    def slots(self) -> list[Slot]:
        slots = [Slot(index, "image", image) for index, image in enumerate(self.images)]
        unstored = max(0, self.received - self.stored)
        for number in range(unstored):
            slots.append(Slot(len(slots), "pending" if number < self.waiting else "missing"))
        if self.is_active:
            for _ in range(max(0, self.task.number_results - len(slots))):
                slots.append(Slot(len(slots), "waiting"))
        return slots


def card_for(task: Task) -> Card:
    if hasattr(task, "_prefetched_objects_cache") and "images" in task._prefetched_objects_cache:
        every = list(task.images.all())
    else:
        every = list(task.images.order_by("created_at", "id"))
    visible = [image for image in every if image.deleted_at is None]
    return Card(task=task, images=visible, stored=len(every))


def status_card(task: Task) -> Card:
    """A generation's card for its head and status line, which read only the task: its images are
    not loaded (card_for gives the whole card)."""
    return Card(task=task, images=[], stored=0)


def recent_cards(user: User, limit: int = RECENT_GENERATIONS) -> list[Card]:
    return recent_page(user, None, limit)[0]


def recent_page(user: User, cursor: Cursor | None, limit: int = RECENT_GENERATIONS) -> tuple[list[Card], Cursor | None]:
    """A page of the member's generations, newest first, after `cursor` (None: the latest), and the
    cursor of the next older page (None when there is none). Keyset paging: an old page costs what
    the first does."""
    queryset = studio_tasks(user).prefetch_related(Prefetch("images", queryset=Image.objects.order_by("created_at", "id")))
    page = keyset_page(queryset, cursor, limit)
    return _cards(page.items), page.next_cursor


def _cards(tasks: list[Task]) -> list[Card]:
    waiting = waiting_for(task.pk for task in tasks)
    cards = [card_for(task) for task in tasks]
    for card in cards:
        card.waiting_count = waiting.get(card.task.pk, 0)
    return cards


# ---------------------------------------------------------------------------- preparing a request


@dataclass
class Prepared:
    """A studio request checked and turned into Runware parameters (or refused with field errors)."""

    form: StudioForm
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    estimate: Estimate | None = None
    seed_image_id: Any = None

    @property
    def is_valid(self) -> bool:
        return bool(self.params)

    @property
    def number_results(self) -> int:
        return int(self.params.get("numberResults", 1))


def prepare(user: User, data: QueryDict, files: Mapping[str, Any] | None = None) -> Prepared:
    """Validate a request, check that every input image is the member's own, and build the task."""
    data = data.copy()
    upload_errors: dict[str, list[str]] = {}
    for target in ("seedImage", "maskImage"):  # the no-JavaScript form uploads files with the request
        upload = (files or {}).get(f"{target}_file")
        if not upload:
            continue
        try:
            checked = ImageUploadField().clean(upload)
        except ValidationError as error:
            upload_errors[target] = error.messages
            continue
        data[target] = str(store_upload(user, checked).image.pk)

    form = StudioForm(data)
    valid = form.is_valid()
    for target, messages in upload_errors.items():
        form.main.add_error(target, messages)
        valid = False
    if not valid:
        return Prepared(form=form)

    images: dict[str, str] = {}
    size = None
    for target, index, image_id in form.image_fields():
        try:
            image = input_image(user, image_id)
        except Http404:
            form.add_image_error(target, index, MISSING_IMAGE)
            continue
        images[str(image_id)] = image_ref(image)  # the runner sends the bytes; the Task row keeps this
        if target == "seedImage" and form.main.outpaint():  # the result is the seed plus the extension
            size = form.main.outpaint_size(image.width, image.height)
    if form.has_errors:
        return Prepared(form=form)

    settings = form.settings()
    if size:
        settings["width"], settings["height"] = size
    return Prepared(
        form=form,
        params=form.to_params(images, size=size),
        settings=settings,
        seed_image_id=form.main.cleaned_data.get("seedImage"),
    )


def remember(task: Task, prepared: Prepared) -> Generation:
    """Keep the form's values next to the task (for "reuse" and for linking results to their seed)."""
    return Generation.objects.create(task=task, settings=prepared.settings, seed_image_id=prepared.seed_image_id)


@dataclass
class Outcome:
    """What became of a Generate: started (`task`), refused before anything was sent (`refusal` says
    why: a budget, a rate limit), or neither, when `form` holds the errors to show."""

    form: StudioForm
    task: Task | None = None
    refusal: str = ""


async def generate(
    user: User,
    data: QueryDict,
    files: Mapping[str, Any] | None = None,
    *,
    on_start: Callable[[Task], Awaitable[None]] | None = None,
) -> Outcome:
    """Check a studio request and start it. The task's Generation row is written before the task is
    sent (its first image may come back at once), then `on_start(task)` shows it (the socket's new card).
    """
    prepared = await database_sync_to_async(prepare)(user, data, files)
    if not prepared.is_valid:
        return Outcome(prepared.form)
    # Priced with the model's own defaults, looked up now: admission's transaction waits on nothing.
    defaults = await model_defaults(prepared.params["model"])
    prepared.estimate = await database_sync_to_async(quote)(
        "imageInference", prepared.params, prepared.number_results, defaults=defaults)

    async def before_start(task: Task) -> None:
        await database_sync_to_async(remember)(task, prepared)
        if on_start is not None:
            await on_start(task)

    try:
        task = await runner.submit(
            user=user,
            feature=FEATURE,
            task_type="imageInference",
            params=prepared.params,
            number_results=prepared.number_results,
            estimated_cost=prepared.estimate.amount if prepared.estimate else None,
            delivery="sync",
            before_start=before_start,
        )
    except Refused as refusal:
        if refusal.field in prepared.form.main.fields:  # a team's model rule: said by the field it is about
            prepared.form.main.add_error(refusal.field, refusal.message)
            label = prepared.form.main.fields[refusal.field].label
            return Outcome(prepared.form, refusal=f"Nothing was sent: the {label} field above says why.")
        return Outcome(prepared.form, refusal=refusal.message)
    return Outcome(prepared.form, task=task)


async def cancel(user: User, task_id: Any) -> Task | None:
    """Cancel one of the member's generations (Http404 for anyone else's); None if it had already ended.

    Runware still bills what it has started: images that arrive afterwards are saved as usual.
    """
    await database_sync_to_async(get_own_task)(user, task_id)
    return await runner.cancel(user=user, task_id=task_id)


def store_upload(user: User, checked: CheckedImage, *, kind: str = Image.Kind.UPLOADED,
                 source: Image | None = None) -> Upload:
    """The upload stored, or the copy of the same file the member uploaded before (`again`)."""
    return save_upload(user, checked, kind=kind, source=source)


# ---------------------------------------------------------------------------- results


def save_result(task: Task, item: dict[str, Any], data: bytes) -> tuple[Task, Slot]:
    """Store one generated image. Returns the task as it is now and the image's slot."""
    generation = Generation.objects.filter(task_id=task.pk).first()
    image = _save_generated(task, item, data, generation)
    # The newest of the task's visible images: its slot comes after theirs. Counting them is
    # enough (the runner may have counted several results at once, so the number of results
    # received does not say which one this is).
    index = Image.objects.filter(task_id=task.pk, deleted_at__isnull=True).count() - 1
    return Task.objects.get(pk=task.pk), Slot(index, "image", image)


def _save_generated(task: Task, item: dict[str, Any], data: bytes, generation: Generation | None) -> Image:
    seed = item.get("seed")
    nsfw = item.get("NSFWContent")
    source = None
    if generation is not None and generation.seed_image_id:
        source = Image.objects.filter(pk=generation.seed_image_id).first()
    return save_image(
        user=task.user,
        data=data,
        kind=Image.Kind.GENERATED,
        task=task,
        source=source,
        prompt=str(task.params.get("positivePrompt", "")),
        model=task.model,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        nsfw=nsfw if isinstance(nsfw, bool) else None,
        cost=parse_cost(item.get("cost")),
        runware_uuid=str(item.get("imageUUID") or ""),
    )


def current(task: Task) -> tuple[Task, Card, int]:
    """The task fresh from the database, its card, and the slot of the result that just arrived."""
    fresh = Task.objects.get(pk=task.pk)
    return fresh, card_for(fresh), max(0, fresh.results_received - 1)


# ---------------------------------------------------------------------------- pre-filling the form


@dataclass
class Prefill:
    initial: dict[str, Any]
    notices: list[str]


def prefill(user: User, query: QueryDict) -> Prefill:
    """Initial values from the studio URL contract (docs/architecture.md)."""
    initial: dict[str, Any] = {}
    notices: list[str] = []
    if reuse := query.get("reuse"):
        try:
            initial.update(settings_of(get_image_for_viewer(user, UUID(reuse))))
        except (Http404, ValueError):
            notices.append("The image whose settings you wanted to reuse is not available.")
    for name in GenerateForm.base_fields:
        if name in query:
            initial[name] = query[name]
    loras = [{"model": model, "weight": weight or 1}
             for model, weight in _pairs(query.getlist("lora_model"), query.getlist("lora_weight")) if model]
    # A ControlNet row needs a model or a guide, not both: "Use for ControlNet" names only the model.
    controlnets = [{"guide": guide, "model": model}
                   for guide, model in _pairs(query.getlist("controlnet_guide"), query.getlist("controlnet_model"))
                   if guide or model]
    if loras:
        initial["loras"] = [*initial.get("loras", []), *loras]
    if controlnets:
        initial["controlnets"] = [*initial.get("controlnets", []), *controlnets]

    for name in ("seedImage", "maskImage"):
        if initial.get(name) and not _owns(user, initial[name]):
            notices.append(f"The {'seed' if name == 'seedImage' else 'mask'} image is not in your gallery.")
            del initial[name]
    rows = []
    for row in initial.get("controlnets", []):
        if row.get("guide") and not _owns(user, row["guide"]):
            notices.append("A ControlNet guide image is not in your gallery; add it again.")
            row = {**row, "guide": ""}
        rows.append(row)
    if rows:
        initial["controlnets"] = rows
    return Prefill(initial=initial, notices=notices)


def settings_of(image: Image) -> dict[str, Any]:
    """Every setting of the task that made an image, to run it again (with that image's seed)."""
    task = image.task
    if task is None:
        return {"positivePrompt": image.prompt, "model": image.model} if image.prompt else {}
    generation = Generation.objects.filter(task=task).first()
    settings = dict(generation.settings) if generation else _settings_from_params(task.params)
    if image.seed:
        settings["seed"] = image.seed
    return settings


def _settings_from_params(params: dict[str, Any]) -> dict[str, Any]:
    """Best effort for tasks the studio did not start: the scalar settings and the LoRAs."""
    settings = {name: value for name, value in params.items()
                if name in GenerateForm.base_fields and isinstance(value, (str, int, float, bool))
                and not str(value).startswith("data:")}
    for side, value in (params.get("outpaint") or {}).items():
        if f"outpaint_{side}" in GenerateForm.base_fields:
            settings[f"outpaint_{side}"] = value
    if refiner := params.get("refiner"):
        settings["refiner_model"] = refiner.get("model", "")
        if refiner.get("startStep"):
            settings["refiner_startStep"] = refiner["startStep"]
    settings["loras"] = [{"model": lora.get("model", ""), "weight": lora.get("weight", 1)}
                         for lora in params.get("lora") or [] if isinstance(lora, dict)]
    return settings


def _pairs(first: list[str], second: list[str]) -> list[tuple[str, str]]:
    """Repeated fields read as rows, the shorter list padded with "" (a row may name one of the two)."""
    return list(zip_longest(first, second, fillvalue=""))


def _owns(user: User, image_id: Any) -> bool:
    try:
        input_image(user, image_id)
    except Http404:
        return False
    return True


def input_image(user: User, image_id: Any) -> Image:
    """An image the member may use as an input (their own, not in the trash), else 404."""
    try:
        image_uuid = UUID(str(image_id))
    except ValueError:
        raise Http404("No such image.") from None
    return get_own_image(user, image_uuid)


def initial_as_query(initial: Mapping[str, Any]) -> QueryDict:
    """Pre-filled values as the query the form would send (rows as repeated fields)."""
    query = QueryDict(mutable=True)
    for name, value in initial.items():
        if name in GenerateForm.base_fields and value not in (None, ""):
            query[name] = str(value)
    for kind, rows in (("lora", initial.get("loras", [])), ("controlnet", initial.get("controlnets", []))):
        for row in rows:
            for name, value in row.items():
                query.appendlist(f"{kind}_{name}", "" if value is None else str(value))
    return query


# ---------------------------------------------------------------------------- the estimate


async def estimate_for(query: QueryDict) -> Estimate:
    """The estimate for whatever the form holds right now, with the model's defaults looked up as
    `generate` looks them up: what is shown is what admission will reserve."""
    params, results = await sync_to_async(estimate_params)(query)
    defaults = await model_defaults(params["model"])
    return await sync_to_async(quote)("imageInference", params, results, defaults=defaults)


def estimate_for_query(query: QueryDict) -> Estimate:
    """The estimate shown with a whole page: the model's defaults as last looked up (no upstream
    call from a page render; a model not looked up yet is priced at the dear end until the form's
    first change asks `estimate_for`)."""
    params, results = estimate_params(query)
    return quote("imageInference", params, results, defaults=known_defaults(params["model"]))


def estimate_params(query: QueryDict) -> tuple[dict[str, Any], int]:
    """What prices the form's current settings; fields still being typed count as defaults."""
    form = StudioForm(query)
    form.is_valid()
    data = form.main.cleaned_data
    params: dict[str, Any] = {
        "model": data.get("model") or GenerateForm.base_fields["model"].initial,
        "width": data.get("width") or GenerateForm.base_fields["width"].initial,
        "height": data.get("height") or GenerateForm.base_fields["height"].initial,
    }
    if data.get("steps"):
        params["steps"] = data["steps"]
    if loras := form.active_loras:
        params["lora"] = [{}] * len(loras)
    if controlnets := form.active_controlnets:
        params["controlNet"] = [{}] * len(controlnets)
    if data.get("refiner_model"):
        params["refiner"] = {"model": data["refiner_model"]}
    return params, data.get("numberResults") or 1
