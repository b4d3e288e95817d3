"""Utility tasks: answered at once, in one frame (`getResponse`, `getTaskDetails`,
`modelSearch`, `accountManagement`, `imageUpload`, `mediaStorage`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import catalog, imaging, video
from .engine import Engine, decode_inline, media_fields
from .errors import SimError, invalid, missing
from .params import Reader
from .pricing import to_json_number
from .store import Job

Utility = Callable[[Engine, dict[str, Any], str], Awaitable[list[dict[str, object]]]]

ORGANIZATION_UUID = "5e7c1a4e-0d1b-4c36-9a57-51a1c0ffee00"


def _job(engine: Engine, task_uuid: str) -> Job:
    job = engine.jobs.get(task_uuid)
    if job is None:
        raise SimError(
            "taskFailedOrNotFound",
            f"No task with taskUUID {task_uuid} was found (or it expired).",
            "taskUUID",
        )
    return job


async def get_response(engine: Engine, task: dict[str, Any], base_url: str) -> list[dict[str, object]]:
    return _job(engine, task["taskUUID"]).snapshot(time.monotonic())


async def get_task_details(engine: Engine, task: dict[str, Any], base_url: str) -> list[dict[str, object]]:
    job = _job(engine, task["taskUUID"])
    return [
        {
            "taskType": "getTaskDetails",
            "taskUUID": job.task_uuid,
            "request": [job.request],
            "response": job.details(),
        }
    ]


async def model_search(engine: Engine, task: dict[str, Any], base_url: str) -> list[dict[str, object]]:
    r = Reader(task)
    raw_tags = r.raw("tags")
    if raw_tags is not None and not isinstance(raw_tags, (str, list)):
        raise invalid("tags", "'tags' must be an array of strings.")
    tags = (raw_tags,) if isinstance(raw_tags, str) else tuple(str(t) for t in raw_tags or ())
    query = catalog.SearchQuery(
        search=r.str("search", max_length=200),
        tags=tags,
        category=r.str("category"),
        type=r.str("type"),
        architecture=r.str("architecture"),
        source=r.str("source", choices=("official", "community")),
        conditioning=r.str("conditioning"),
        visibility=r.str("visibility", choices=("public", "private", "favorite", "owned", "all")),
        sort=r.str("sort", choices=catalog.SORT_KEYS),
        limit=r.int("limit", 1, 100, 20),
        offset=r.int("offset", 0, 1_000_000, 0),
    )
    total, page = catalog.search(query)
    return [
        {
            "taskType": "modelSearch",
            "taskUUID": task["taskUUID"],
            "totalResults": total,
            "results": [model.to_search_result(base_url) for model in page],
        }
    ]


async def account_management(engine: Engine, task: dict[str, Any], base_url: str) -> list[dict[str, object]]:
    r = Reader(task)
    operation = r.str("operation", ...)
    if operation != "getDetails":
        raise SimError(
            "unsupportedOperation",
            f"Operation '{operation}' is not simulated; use 'getDetails'.",
            "operation",
        )
    usage = engine.ledger.usage()
    return [
        {
            "taskType": "accountManagement",
            "taskUUID": task["taskUUID"],
            "operation": "getDetails",
            "organizationUUID": ORGANIZATION_UUID,
            "organizationName": "Runware Simulator",
            "AIRSource": "sim",
            "balance": to_json_number(engine.ledger.balance),
            "team": [
                {
                    "name": "Simulated Owner",
                    "email": "owner@example.com",
                    "roles": ["Owner"],
                    "joinedAt": "2024-01-01T00:00:00Z",
                }
            ],
            "apiKeys": [
                {"name": f"key-{index + 1}", "apiKey": f"{key[:4]}…", "requests": count}
                for index, (key, count) in enumerate(engine.api_key_requests.items())
            ],
            "usage": {
                "totalCharged": to_json_number(engine.ledger.total_charged),
                "byTaskType": {
                    task_type: {"results": count, "charged": to_json_number(amount)}
                    for task_type, (count, amount) in usage.items()
                },
            },
        }
    ]


async def image_upload(engine: Engine, task: dict[str, Any], base_url: str) -> list[dict[str, object]]:
    r = Reader(task)
    _reserve(engine, task)
    image_uuid, image = await engine.resolve_image(r.str("image", ...), "image", base_url)
    source = engine.media.get(image_uuid)
    assert source is not None
    stored = engine.media.put(source.data, source.ext, source.content_type)  # every upload gets its own UUID
    engine.media.cache_image(stored.uuid, image)
    item = {
        "taskType": "imageUpload",
        "taskUUID": task["taskUUID"],
        "imageUUID": stored.uuid,
        **media_fields(stored, "image", ("URL",), base_url),
    }
    return _record(engine, task, item)


async def media_storage(engine: Engine, task: dict[str, Any], base_url: str) -> list[dict[str, object]]:
    r = Reader(task)
    operation = r.str("operation", ..., choices=("upload", "delete"))
    _reserve(engine, task)
    envelope = {"taskType": "mediaStorage", "taskUUID": task["taskUUID"], "operation": operation}
    if operation == "delete":
        media_uuid = r.str("mediaUUID") or r.str("media")
        if not media_uuid:
            raise missing("mediaUUID")
        if not engine.media.delete(media_uuid):
            raise SimError("mediaNotFound", f"No stored media with UUID {media_uuid}.", "mediaUUID")
        return _record(engine, task, {**envelope, "mediaUUID": media_uuid})
    media = r.str("media", ...)
    if media.startswith(("http://", "https://")):
        media_uuid, _ = await engine.resolve_image(media, "media", base_url)
        source = engine.media.get(media_uuid)
        assert source is not None
        data, ext, content_type = source.data, source.ext, source.content_type
    else:
        data, mime = decode_inline(media, "media")
        ext, content_type = imaging.detect_format(data)
        if ext == "bin":  # not an image: a video (so it can be an `inputs.video`), a GLB, or as declared
            ext, content_type = await engine.blocking(video.detect, data) or (
                ("glb", "model/gltf-binary") if data[:4] == b"glTF" else (ext, mime or content_type)
            )
    stored = engine.media.put(data, ext, content_type)
    return _record(
        engine,
        task,
        {**envelope, "mediaUUID": stored.uuid, **media_fields(stored, "media", ("URL",), base_url)},
    )


def _reserve(engine: Engine, task: dict[str, Any]) -> None:
    existing = engine.jobs.get(task["taskUUID"])
    if existing is not None and not existing.failed:
        raise SimError(
            "conflictTaskUUID", f"A task with taskUUID {task['taskUUID']} already exists.", "taskUUID"
        )


def _record(engine: Engine, task: dict[str, Any], item: dict[str, object]) -> list[dict[str, object]]:
    """Keep an upload's answer retrievable through getResponse, like every other task."""
    job = Job(
        task["taskType"],
        task["taskUUID"],
        {k: v for k, v in task.items() if k not in ("image", "media")},
        [{}],
    )
    job.complete(0, {k: v for k, v in item.items() if k not in ("taskType", "taskUUID")})
    job.finished.set()
    engine.jobs.add(job)
    return [item]


UTILITIES: dict[str, Utility] = {
    "getResponse": get_response,
    "getTaskDetails": get_task_details,
    "modelSearch": model_search,
    "accountManagement": account_management,
    "imageUpload": image_upload,
    "mediaStorage": media_storage,
}
