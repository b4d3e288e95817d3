"""What the endpoint does with each task a script sends, whichever transport brought it.

The socket (consumers.py) and `POST /v1` (views.py) both call `answer(...)` for every task object
of a message. Tasks that cost money go through the runner exactly as the browser's do
(`runner.submit`, feature "endpoint"): admission against the member's, team's and key's budgets
and the rate limit, the Task row first, the ledger, the results copied into the member's gallery.
Free utility tasks (ping, getResponse, accountManagement, modelSearch) are answered here.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.http import Http404
from runware import RunOptions

from runware_web.endpoint import keys, limits, protocol, streams
from runware_web.endpoint.handlers import remember_call
from runware_web.endpoint.models import ApiKey, EndpointCall, TextOutput
from runware_web.endpoint.outputs import RUN_TASK_TYPES, Output
from runware_web.lib import sql
from runware_web.lib.air import is_air
from runware_web.media.access import get_own_image
from runware_web.media.models import Image
from runware_web.media.refs import image_ref
from runware_web.money.prices import PriceMemory, estimate, uses_model_defaults
from runware_web.money.reports import member_budget_use, team_budget_use
from runware_web.runner import Quick, runner
from runware_web.runner.state import PRICE_MEMORY_SECONDS
from runware_web.upstream.client import shared_client
from runware_web.upstream.errors import Refused, UpstreamError, from_sdk
from runware_web.upstream.models import Task
from runware_web.upstream.models_catalogue import model_defaults

FEATURE = "endpoint"
OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
#: Free tasks answered by the endpoint itself, whichever task types a key is limited to.
UTILITY_TASK_TYPES = ("getResponse", "accountManagement", "modelSearch")
UTILITY_TIMEOUT_SECONDS = 30
#: Parameters the portal sets itself, or never lets through (Runware would call the script's URLs
#: with the portal's account).
CONTROL_KEYS = ("taskType", "taskUUID", "deliveryMethod", "includeCost", "outputType")
REFUSED_KEYS = ("webhookURL", "uploadEndpoint")
#: Parameters naming input images: an imageUUID the portal returned becomes a reference to the
#: member's stored image (the runner sends its bytes).
IMAGE_KEYS = frozenset({"seedImage", "maskImage", "guideImage", "inputImage", "image", "referenceImages", "images"})


@dataclass
class Caller:
    """Who is asking: the key (afresh per message), where results go, and the portal's address."""

    key: ApiKey
    base_url: str
    session: uuid.UUID | None = None  # the socket's connectionSessionUUID; None over REST
    started: list[Task] = field(default_factory=list)  # tasks this message started (REST waits on them)
    feed: streams.Feed | None = None  # the streamed reply this request started (REST only)


Frame = dict[str, Any]


def data(*items: dict[str, Any]) -> Frame:
    return {"data": list(items)}


def errors(*objs: dict[str, Any]) -> Frame:
    return {"errors": list(objs)}


async def answer(caller: Caller, task: Any) -> Frame | None:
    """The immediate answer to one task object (None: its results come later, pushed by the handler)."""
    if not isinstance(task, dict):
        return errors(protocol.invalid("taskType", "Each task must be a JSON object with a taskType."))
    task_type = task.get("taskType")
    task_uuid = task.get("taskUUID")
    label = str(task_uuid) if isinstance(task_uuid, str) else ""
    if task_type == "ping":
        return data({"taskType": "ping", "pong": True})
    if not isinstance(task_type, str) or not task_type:
        return errors(protocol.invalid("taskType", "Name the task's taskType.", task_uuid=label))
    try:
        client_uuid = uuid.UUID(str(task_uuid))
    except ValueError:
        return errors(protocol.invalid("taskUUID", "taskUUID must be a UUID.", task_type=task_type, task_uuid=label))
    label = str(task_uuid)
    if task_type in RUN_TASK_TYPES:  # the key is read afresh with the task's checks (one trip to the database)
        return await start(caller, task, task_type, client_uuid)
    refusal = await database_sync_to_async(_key_refusal)(caller, task_type, label)
    if refusal is not None:
        return refusal
    if task_type == "getResponse":
        return await database_sync_to_async(get_response)(caller, client_uuid)
    if task_type == "accountManagement":
        return await database_sync_to_async(account_details)(caller, task, label)
    if task_type == "modelSearch":
        return await model_search(task, label)
    return errors(protocol.error(
        "unsupportedTaskType", f"The portal's endpoint does not run {task_type} tasks.",
        parameter="taskType", task_type=task_type, task_uuid=label))


def _key_refusal(caller: Caller, task_type: str, label: str) -> Frame | None:
    """The key afresh (into `caller`), or the refusal when it may no longer run this task: revoked
    or expired since the socket authenticated, or not allowed this task type."""
    key = keys.still_usable(caller.key.pk)
    if key is None:
        return errors(protocol.error("invalidApiKey", protocol.INVALID_KEY, parameter="apiKey",
                                     task_type=task_type, task_uuid=label))
    caller.key = key
    if key.allowed_task_types and task_type not in key.allowed_task_types and task_type not in UTILITY_TASK_TYPES:
        return errors(protocol.error(
            "unsupportedTaskType", f"Key “{key.name}” may not run {task_type} tasks.",
            parameter="taskType", task_type=task_type, task_uuid=label))
    return None


# ---------------------------------------------------------------------- tasks that cost money


@dataclass
class Checked:
    params: dict[str, Any]
    number_results: int
    delivery: str
    output_type: str
    input_size: tuple[int, int] | None = None  # of the task's first input image (prices an upscale)
    estimated: Decimal | None = None  # what admission reserves for it (None: admission prices it)


async def start(caller: Caller, task: dict[str, Any], task_type: str, client_uuid: uuid.UUID) -> Frame | None:
    """Check a task, admit and start it through the runner; the ACK (async), or None (sync: the
    results are pushed one by one as they are stored)."""
    label = str(client_uuid)
    model = task.get("model")
    known = uses_model_defaults(task_type) and isinstance(model, str) and is_air(model)
    defaults = await _model_defaults(model) if known else None  # before the trip to the database
    checked = await _checked(caller, task, task_type, label, defaults)
    if not isinstance(checked, Checked):
        return checked
    key, estimated = caller.key, checked.estimated

    recorded: dict[str, EndpointCall] = {}

    def record(admitted: Task) -> None:  # in the admission's transaction (see record_call)
        recorded["call"] = record_call(admitted, caller, client_uuid, checked.output_type)

    def quick_condition(task: Task) -> tuple[str, list[Any]]:  # record_call's checks, in SQL
        return ApiKey.objects.quick_condition(key.pk, user_id=task.user_id, task_type=task.task_type, model=task.model,
                                              estimate=task.estimated_cost, client_task_uuid=client_uuid)

    def quick_rows(task: Task) -> list[EndpointCall]:  # record_call's row
        recorded["call"] = EndpointCall(
            task=task, user=task.user, key=key, key_name=key.name, client_task_uuid=client_uuid,
            session=caller.session, output_type=checked.output_type,
        )
        return [recorded["call"]]

    async def before_start(started: Task) -> None:
        if started.feature == FEATURE:
            remember_call(recorded["call"])  # its results are handed on without reading it again
        if checked.delivery == "stream":  # before the first chunk can arrive
            caller.feed = streams.open_feed(started.pk, task_type=task_type, task_uuid=label)

    output = RUN_TASK_TYPES[task_type]
    delivery = "stream" if checked.delivery == "stream" else "async" if output.feature else "sync"
    try:
        started = await runner.submit(
            user=key.user, feature=output.feature or FEATURE, task_type=task_type, params=checked.params,
            number_results=checked.number_results, estimated_cost=estimated, delivery=delivery,
            record_with=record, read_ahead=partial(keys.read_ahead, key.pk), before_start=before_start,
            quick=Quick(condition=quick_condition, rows=quick_rows), model_defaults=defaults,
        )
    except Refused as refused:
        _note_refusal(key.pk)
        return errors(protocol.from_refusal(refused, task_type=task_type, task_uuid=label))
    except IntegrityError:
        return errors(protocol.error("conflictTaskUUID", "A task with this taskUUID already exists.",
                                     parameter="taskUUID", task_type=task_type, task_uuid=label))
    caller.started.append(started)
    if checked.delivery == "async":
        return data({"taskType": task_type, "taskUUID": label})
    return None


#: When each key's task was last refused (key id → monotonic seconds): for a while after, its tasks
#: are weighed before admission too (_checked), so that a script hammering at its limit does not
#: split every admission trip it shares with other tasks (a refusal inside one is written again
#: task by task, see runner.batching).
_refusals: dict[Any, float] = {}
REFUSED_LATELY_SECONDS = 60.0


def _note_refusal(key_id: Any) -> None:
    if len(_refusals) >= 10_000:
        _refusals.clear()
    _refusals[key_id] = time.monotonic()


def _refused_lately(key_id: Any) -> bool:
    when = _refusals.get(key_id)
    return when is not None and time.monotonic() - when < REFUSED_LATELY_SECONDS


#: Each model's defaults as last looked up (model → when, defaults), kept a few seconds in this
#: process: the cache it comes from is a trip to a thread (or to Redis) for every task a script starts.
_defaults: dict[str, tuple[float, Any]] = {}


async def _model_defaults(model: str) -> Any:
    now = time.monotonic()
    when, defaults = _defaults.get(model, (-PRICE_MEMORY_SECONDS, None))
    if now - when >= PRICE_MEMORY_SECONDS:
        defaults = await model_defaults(model)
        if len(_defaults) >= 1000:
            _defaults.clear()
        _defaults[model] = (now, defaults)
    return defaults


@dataclass
class NotStoredYet:
    """An input imageUUID that is none of the member's images, while tasks of theirs are still
    storing results: it may be one the script was just handed (handlers.py pushes a result before
    it is stored). `frame` is the refusal, should it not appear."""

    frame: Frame


#: How long a task naming an input image waits for it to be stored (see NotStoredYet).
INPUT_WAIT_SECONDS = 30.0
INPUT_POLL_SECONDS = 0.05


async def _checked(caller: Caller, task: dict[str, Any], task_type: str, label: str, defaults: Any) -> Checked | Frame:
    """check(), waiting for an input image the script was handed but the portal has not stored yet.

    A task that names no input image, of a key not refused lately, is checked here, without a trip
    to the database: the key afresh, its rate limit and its budget are weighed in the admission's
    own transaction (record_call), where they hold against every other worker anyway, and a reused
    taskUUID meets the unique constraint there. Its estimate is the admission's too."""
    if not _refused_lately(caller.key.pk):
        checked = check_params(caller, task, task_type, label)
        if not isinstance(checked, Checked) or not _names_images(checked.params):
            if isinstance(checked, Checked):
                checked.estimated = None
            return checked
    loop = asyncio.get_running_loop()
    deadline = loop.time() + INPUT_WAIT_SECONDS
    storing = True
    while True:
        checked = await database_sync_to_async(_usable_and_checked)(caller, task, task_type, label, defaults)
        if not isinstance(checked, NotStoredYet):
            return checked
        if not storing or loop.time() >= deadline:
            return checked.frame
        # Checked once more after the last task ends: it may have stored the image since.
        storing = await database_sync_to_async(_still_storing, thread_sensitive=False)(caller.key.user_id)
        if storing:
            await asyncio.sleep(INPUT_POLL_SECONDS)


def _still_storing(user_id: int) -> bool:
    return Task.objects.active().filter(user_id=user_id, feature=FEATURE).exists()


def _usable_and_checked(caller: Caller, task: dict[str, Any], task_type: str, label: str,
                        defaults: Any) -> Checked | Frame | NotStoredYet:
    """The key afresh, the task checked and weighed against the key's rate limit and budget: one
    trip to the database thread, as these run for every task a script starts."""
    checked = _key_refusal(caller, task_type, label) or check(caller, task, task_type, label)
    if not isinstance(checked, Checked):
        return checked
    refusal = limits.task_rate_refusal(caller.key)
    if refusal is None:
        checked.estimated = estimate(task_type, checked.params, checked.number_results, defaults=defaults,
                                     input_size=checked.input_size, learned=_PRICES.current())
        refusal = keys.key_refusal(caller.key, checked.estimated)
    if refusal is not None:
        _note_refusal(caller.key.pk)
        return errors(protocol.from_refusal(refusal, task_type=task_type, task_uuid=label))
    return checked


#: What recent tasks cost, kept a few seconds (as the runner's admission keeps it): a script starting
#: many alike tasks reads the recent ones once, not once a task.
_PRICES = PriceMemory(PRICE_MEMORY_SECONDS)


def check(caller: Caller, task: dict[str, Any], task_type: str, label: str) -> Checked | Frame | NotStoredYet:
    """The task's Runware parameters, or the validation error naming what is wrong (its input
    images looked up among the member's)."""
    checked = check_params(caller, task, task_type, label)
    if not isinstance(checked, Checked):
        return checked
    key = caller.key
    if EndpointCall.objects.filter(user=key.user, client_task_uuid=label).exists():
        return errors(protocol.error("conflictTaskUUID", "A task with this taskUUID already exists.",
                                     parameter="taskUUID", task_type=task_type, task_uuid=label))
    inputs: list[Image] = []
    try:
        checked.params = _own_images(key.user, checked.params, inputs=inputs)
    except _NotYours as missing:
        return NotStoredYet(errors(protocol.invalid(
            missing.parameter, "That image is not one of yours in the portal. Use an imageUUID the portal returned.",
            task_type=task_type, task_uuid=label)))
    checked.input_size = (inputs[0].width, inputs[0].height) if inputs else None
    return checked


def check_params(caller: Caller, task: dict[str, Any], task_type: str, label: str) -> Checked | Frame:
    """The task's Runware parameters, or the validation error naming what is wrong: what can be
    told without the database (input images are looked up by check())."""
    key = caller.key
    output = RUN_TASK_TYPES[task_type]
    if key.allowed_task_types and task_type not in key.allowed_task_types:
        return errors(protocol.error(
            "unsupportedTaskType", f"Key “{key.name}” may not run {task_type} tasks.",
            parameter="taskType", task_type=task_type, task_uuid=label))

    def bad(parameter: str, message: str) -> Frame:
        return errors(protocol.invalid(parameter, message, task_type=task_type, task_uuid=label))

    for name in REFUSED_KEYS:
        if task.get(name):
            return errors(protocol.error(
                "unsupportedParameter", f"The portal's endpoint does not take {name}: it keeps results in your gallery.",
                parameter=name, task_type=task_type, task_uuid=label))
    model = task.get("model")
    if not isinstance(model, str) or not is_air(model):
        return bad("model", "model must be an AIR identifier such as runware:101@1.")
    if key.allowed_models and model not in key.allowed_models:
        return errors(protocol.error("unsupportedModel", f"Key “{key.name}” may not use the model {model}.",
                                     parameter="model", task_type=task_type, task_uuid=label))
    count = task.get(output.count_param, 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= output.max_count:
        return bad(output.count_param, f"{output.count_param} must be a whole number from 1 to {output.max_count} "
                                       f"for {task_type}.")
    delivery = task.get("deliveryMethod", output.deliveries[0])
    if delivery not in output.deliveries:
        return bad("deliveryMethod", f"deliveryMethod must be {' or '.join(output.deliveries)} for {task_type}.")
    if delivery == "stream" and (caller.session is not None or count != 1):
        return bad("deliveryMethod", "Streaming sends one reply over HTTP (POST /v1): use the REST API, "
                                     "with numberResults 1.")
    output_type = task.get("outputType", "URL")
    if output_type not in OUTPUT_TYPES:
        return bad("outputType", "outputType must be URL, base64Data or dataURI.")
    params = {name: value for name, value in task.items() if name not in CONTROL_KEYS}
    return Checked(params=params, number_results=count, delivery=delivery, output_type=output_type)


class _NotYours(Exception):
    def __init__(self, parameter: str) -> None:
        self.parameter = parameter


def _own_images(user: Any, value: Any, parameter: str = "", *, inputs: list[Image]) -> Any:
    """Parameters with every input imageUUID of the member's swapped for a reference to the stored
    image (each added to `inputs`); a UUID that is not one of theirs raises. URLs, base64 and data
    URIs go as they are."""
    if isinstance(value, dict):
        return {name: _own_images(user, item, name if name in IMAGE_KEYS else parameter, inputs=inputs)
                for name, item in value.items()}
    if isinstance(value, list):
        return [_own_images(user, item, parameter, inputs=inputs) for item in value]
    if parameter and isinstance(value, str) and _is_uuid(value):
        try:
            image = get_own_image(user, value)
        except Http404:
            raise _NotYours(parameter) from None
        inputs.append(image)
        return image_ref(image)
    return value


def _names_images(value: Any, parameter: str = "") -> bool:
    """Whether the parameters name an input image by imageUUID (check() looks those up)."""
    if isinstance(value, dict):
        return any(_names_images(item, name if name in IMAGE_KEYS else parameter) for name, item in value.items())
    if isinstance(value, list):
        return any(_names_images(item, parameter) for item in value)
    return bool(parameter) and isinstance(value, str) and _is_uuid(value)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) in (32, 36)


def record_call(task: Task, caller: Caller, client_uuid: uuid.UUID, output_type: str) -> EndpointCall:
    """The task's own row of the endpoint (which key, the script's taskUUID), written with the key's
    budget held and its rate limit checked: two tasks of one key on two workers are weighed one
    after the other. Runs in the runner's admission transaction, just after the task's row is
    written (runner.submit's `record_with`: no trip of its own). Raises Refused (or IntegrityError
    for a taskUUID the member already used): then neither the task nor this row is kept."""
    with transaction.atomic(savepoint=False):  # the admission's transaction, without a savepoint
        caller.key = keys.usable_for_task(caller.key.pk, task)  # afresh: revoked, narrowed, expired since?
        started = keys.started_this_minute(caller.key.pk)  # before this one
        call = EndpointCall(
            task=task, user=task.user, key=caller.key, key_name=caller.key.name, client_task_uuid=client_uuid,
            session=caller.session, output_type=output_type,
        )
        sql.insert([call])  # by hand, as the task's own row: it runs for every task a script starts
        keys.note_started(caller.key.pk)
        keys.admit_for_key(caller.key, task)
        refusal = limits.task_rate_refusal(caller.key, started=started)
        if refusal is not None:
            raise refusal
    return call


# ---------------------------------------------------------------------- reading results


def output_items(call: EndpointCall, base_url: str) -> list[dict[str, Any]]:
    """A task's stored results as Runware items."""
    task, label = call.task, str(call.client_task_uuid)
    output = RUN_TASK_TYPES.get(task.task_type, Output())
    if output.text:
        texts = TextOutput.objects.filter(task=task)
        return [protocol.text_item(text.item, task_type=task.task_type, task_uuid=label) for text in texts]
    images = Image.objects.filter(task=task).order_by("created_at", "id")
    # resultIndex: a 3D model's item has no id of its own, and the SDK tells several apart by it.
    return [protocol.image_item(image, task_type=task.task_type, task_uuid=label, output_type=call.output_type,
                                base_url=base_url, prefix=output.prefix,
                                result_index=index if output.prefix == protocol.FILES else None)
            for index, image in enumerate(images)]


def task_items(call: EndpointCall, base_url: str, *, with_status: bool) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A task's stored results as Runware items, and its error object if it failed."""
    task, label = call.task, str(call.client_task_uuid)
    items = output_items(call, base_url)
    if with_status:
        for item in items:
            item["status"] = "success"
    failure = None
    if task.status == Task.Status.FAILED or (task.status == Task.Status.CANCELLED and not task.is_active
                                             and len(items) < task.number_results and task.finished_at):
        failure = protocol.from_upstream(
            UpstreamError(code=task.error_code or "aborted", message=task.error_message or "The task was stopped.",
                          parameter=task.error_parameter),
            task_type=task.task_type, task_uuid=label)
    return items, failure


#: A task counts as finished while its session was away if it ended this long before the drop was
#: noticed, or later: a result pushed to a socket already gone is then sent again (a script's SDK
#: drops the results of a task it already has).
RESUME_MARGIN = timedelta(seconds=5)


def missed_results(user_id: int, session: uuid.UUID, dropped_at: datetime, base_url: str) -> list[Frame]:
    """The frames a resumed socket session is sent: the results (or the error) of each of its tasks
    that finished while it was away, in the order they were started. Tasks still running push
    their results to the session as before."""
    calls = (EndpointCall.objects.select_related("task")
             .filter(user_id=user_id, session=session, task__finished_at__gte=dropped_at - RESUME_MARGIN)
             .order_by("created_at"))
    frames = []
    for call in calls:
        items, failure = task_items(call, base_url, with_status=False)
        if items:
            frames.append(data(*items))
        if failure is not None:
            frames.append(errors(failure))
    return frames


def get_response(caller: Caller, client_uuid: uuid.UUID) -> Frame:
    """Everything a task has produced so far (cumulative, as Runware answers polls)."""
    call = EndpointCall.objects.select_related("task").filter(user=caller.key.user, client_task_uuid=client_uuid).first()
    label = str(client_uuid)
    if call is None:
        return errors(protocol.error("taskFailedOrNotFound", "There is no task of yours with this taskUUID.",
                                     parameter="taskUUID", task_type="getResponse", task_uuid=label))
    items, failure = task_items(call, caller.base_url, with_status=True)
    task = call.task
    if task.is_active and RUN_TASK_TYPES.get(task.task_type, Output()).together:
        items = []  # Runware answers these all at once (see outputs.Output.together)
    if failure is not None and not items:
        return errors(failure)
    if failure is not None:
        items.append({"taskType": task.task_type, "taskUUID": label, "status": "error", "error": failure})
    elif task.is_active:
        for _ in range(max(0, task.number_results - len(items))):
            items.append({"taskType": task.task_type, "taskUUID": label, "status": "processing"})
    return data(*items)


# ---------------------------------------------------------------------- free utilities


def account_details(caller: Caller, task: dict[str, Any], label: str) -> Frame:
    """The member's remaining budget (the smallest of theirs, their team's and the key's), never
    the Runware account's balance."""
    operation = task.get("operation", "getDetails")
    if operation != "getDetails":
        return errors(protocol.invalid("operation", "The portal's endpoint answers only operation getDetails.",
                                       task_type="accountManagement", task_uuid=label))
    key = caller.key
    user = key.user
    uses = {"member": member_budget_use(user), "key": keys.key_use(key)}
    if user.team is not None:
        uses["team"] = team_budget_use(user.team)
    remaining = [use.remaining for use in uses.values() if use.remaining is not None]
    return data({
        "taskType": "accountManagement", "taskUUID": label, "operation": "getDetails",
        "organizationName": user.team.name if user.team else user.get_username(),
        "balance": float(min(remaining)) if remaining else None,
        "budgets": {
            name: {"budget": _number(use.budget), "spent": float(use.spent), "running": float(use.running),
                   "remaining": _number(use.remaining)}
            for name, use in uses.items()
        },
        "apiKeys": [{"name": key.name, "createdAt": key.created_at.isoformat()}],
    })


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


async def model_search(task: dict[str, Any], label: str) -> Frame:
    """Runware's model search, relayed (free: no Task row, no charge)."""
    params = {name: value for name, value in task.items() if name not in CONTROL_KEYS}
    try:
        client = await shared_client()
        items = await asyncio.wait_for(
            client.model_search(params, RunOptions(timeout=UTILITY_TIMEOUT_SECONDS * 1000)), UTILITY_TIMEOUT_SECONDS)
    except Exception as exc:
        return errors(protocol.from_upstream(from_sdk(exc), task_type="modelSearch", task_uuid=label))
    return data(*[{**item, "taskType": "modelSearch", "taskUUID": label} for item in items])
