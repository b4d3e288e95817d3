"""In-memory state: stored files, the money ledger and task records.

Everything here is touched from the simulator's event loop only, except the Ledger,
which other threads read (SimulatorThread.balance()), hence its lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from PIL import Image

from .errors import SimError

TASK_RETENTION_SECONDS = 3600.0
FILE_RETENTION_SECONDS = 3600.0
IMAGE_CACHE_PIXELS = 48_000_000  # per cache of decoded images (~150–200 MB)

_V = TypeVar("_V")


def pixels(image: Image.Image) -> int:
    return image.width * image.height


class LRU(Generic[_V]):
    """Least-recently-used cache bounded by the total weight of its values (pixels, bytes, ...)."""

    def __init__(self, budget: int, weigh: Callable[[_V], int]) -> None:
        self._items: OrderedDict[Hashable, _V] = OrderedDict()
        self._budget = budget
        self._weigh = weigh
        self._weight = 0

    def get(self, key: Hashable) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: _V) -> None:
        self.pop(key)
        self._items[key] = value
        self._weight += self._weigh(value)
        while self._weight > self._budget and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self._weight -= self._weigh(evicted)

    def pop(self, key: Hashable) -> None:
        value = self._items.pop(key, None)
        if value is not None:
            self._weight -= self._weigh(value)


@dataclass
class StoredFile:
    uuid: str
    data: bytes
    ext: str
    content_type: str
    created_at: float = field(default_factory=time.monotonic)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class MediaStore:
    """Files served under /files/<uuid>.<ext>, plus a small cache of decoded images."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._by_digest: dict[str, str] = {}
        self._decoded: LRU[Image.Image] = LRU(IMAGE_CACHE_PIXELS, pixels)

    def put(self, data: bytes, ext: str, content_type: str, file_uuid: str | None = None) -> StoredFile:
        stored = StoredFile(file_uuid or str(uuid.uuid4()), data, ext, content_type)
        self._files[stored.uuid] = stored
        return stored

    def put_deduplicated(self, data: bytes, ext: str, content_type: str) -> StoredFile:
        """Store inline input images once per content, so repeated requests reuse one UUID."""
        digest = hashlib.sha256(data).hexdigest()
        existing = self._files.get(self._by_digest.get(digest, ""))
        if existing is not None:
            return existing
        stored = self.put(data, ext, content_type)
        self._by_digest[digest] = stored.uuid
        return stored

    def get(self, file_uuid: str) -> StoredFile | None:
        return self._files.get(file_uuid)

    def delete(self, file_uuid: str) -> bool:
        self._decoded.pop(file_uuid)
        return self._files.pop(file_uuid, None) is not None

    def cached_image(self, file_uuid: str) -> Image.Image | None:
        return self._decoded.get(file_uuid)

    def cache_image(self, file_uuid: str, image: Image.Image) -> None:
        self._decoded.put(file_uuid, image)

    def prune(self, now: float) -> None:
        expired = [u for u, f in self._files.items() if now - f.created_at > FILE_RETENTION_SECONDS]
        for file_uuid in expired:
            self.delete(file_uuid)
        self._by_digest = {d: u for d, u in self._by_digest.items() if u in self._files}


class Ledger:
    """Account balance and charges, as Decimal."""

    def __init__(self, starting_balance: Decimal) -> None:
        self._lock = threading.Lock()
        self._balance = starting_balance
        self._charged = Decimal(0)
        self._by_task_type: dict[str, Decimal] = defaultdict(Decimal)
        self._count_by_task_type: dict[str, int] = defaultdict(int)

    def charge(self, amount: Decimal, task_type: str) -> None:
        with self._lock:
            self._balance -= amount
            self._charged += amount
            self._by_task_type[task_type] += amount
            self._count_by_task_type[task_type] += 1

    def can_afford(self, amount: Decimal) -> bool:
        with self._lock:
            return self._balance >= amount

    @property
    def balance(self) -> Decimal:
        with self._lock:
            return self._balance

    @property
    def total_charged(self) -> Decimal:
        with self._lock:
            return self._charged

    def usage(self) -> dict[str, tuple[int, Decimal]]:
        """Per task type: (charged results, amount)."""
        with self._lock:
            return {k: (self._count_by_task_type[k], v) for k, v in self._by_task_type.items()}


# ------------------------------------------------------------------------- tasks


@dataclass
class Slot:
    """One expected result of a task, as reported by getResponse."""

    placeholder: dict[str, object]  # processing-safe identity fields, e.g. {"imageUUID": ...}
    status: str = "processing"
    item: dict[str, object] | None = None
    started_at: float | None = None
    duration: float = 0.0

    def progress(self, now: float) -> int:
        if self.started_at is None or self.duration <= 0:
            return 0
        return max(0, min(99, int(100 * (now - self.started_at) / self.duration)))


class Job:
    """A task's lifetime record: request, per-result slots and the final state."""

    def __init__(
        self,
        task_type: str,
        task_uuid: str,
        request: dict[str, object],
        placeholders: list[dict[str, object]],
    ) -> None:
        self.task_type = task_type
        self.task_uuid = task_uuid
        self.request = request
        self.slots = [Slot(dict(p)) for p in placeholders]
        self.error: SimError | None = None
        self.created_at = time.monotonic()
        self.finished = asyncio.Event()

    def _envelope(self) -> dict[str, object]:
        return {"taskType": self.task_type, "taskUUID": self.task_uuid}

    def complete(self, index: int, fields: dict[str, object]) -> dict[str, object]:
        slot = self.slots[index]
        slot.item = {**self._envelope(), **fields}
        slot.status = "success"
        return slot.item

    def fail(self, error: SimError) -> None:
        self.error = error
        for slot in self.slots:
            if slot.status == "processing":
                slot.status = "error"
        self.finished.set()

    @property
    def failed(self) -> bool:
        return self.error is not None

    def results(self) -> list[dict[str, object]]:
        return [slot.item for slot in self.slots if slot.item is not None]

    def snapshot(self, now: float) -> list[dict[str, object]]:
        """Cumulative getResponse answer: one item per expected result."""
        items: list[dict[str, object]] = []
        for slot in self.slots:
            if slot.status == "success" and slot.item is not None:
                items.append({**slot.item, "status": "success"})
            elif slot.status == "error" and self.error is not None:
                items.append(
                    {
                        **self._envelope(),
                        **slot.placeholder,
                        "status": "error",
                        "error": self.error.to_dict(self.task_type, self.task_uuid),
                    }
                )
            else:
                items.append(
                    {
                        **self._envelope(),
                        **slot.placeholder,
                        "status": "processing",
                        "progress": slot.progress(now),
                    }
                )
        return items

    def details(self) -> dict[str, object]:
        """The `response` part of getTaskDetails."""
        status = "error" if self.failed else "success" if self.finished.is_set() else "processing"
        response: dict[str, object] = {"status": status, "data": self.results()}
        if self.error is not None:
            response["error"] = self.error.to_dict(self.task_type, self.task_uuid)
        return response


class JobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def add(self, job: Job) -> None:
        """Register a job. A live or finished task with this UUID is a conflict; a failed one is replaced."""
        existing = self._jobs.get(job.task_uuid)
        if existing is not None and not existing.failed:
            raise SimError(
                "conflictTaskUUID", f"A task with taskUUID {job.task_uuid} already exists.", "taskUUID"
            )
        self._jobs[job.task_uuid] = job

    def get(self, task_uuid: str) -> Job | None:
        return self._jobs.get(task_uuid)

    def prune(self, now: float) -> None:
        expired = [
            u
            for u, j in self._jobs.items()
            if j.finished.is_set() and now - j.created_at > TASK_RETENTION_SECONDS
        ]
        for task_uuid in expired:
            del self._jobs[task_uuid]
