"""Runware-style error objects.

Raw codes follow Runware's naming so that runware-sdk maps them to the intended
stable category (`invalid…`/`missing…`/`unsupported…` → validation, `…NotFound`
→ notFound, `…Credits` → quota, …). The HTTP status never is 408, 429 or 5xx for
a deterministic failure, because the SDK retries those.
"""

from __future__ import annotations

import re

from runware.errors import derive_code

_STATUS_BY_CATEGORY = {"auth": 401, "quota": 402, "notFound": 404}


class SimError(Exception):
    """A task failure with a raw Runware code, a message and the offending parameter."""

    def __init__(self, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.parameter = parameter

    def to_dict(self, task_type: str | None, task_uuid: str | None) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.parameter:
            error["parameter"] = self.parameter
        if task_type:
            error["taskType"] = task_type
        if task_uuid:
            error["taskUUID"] = task_uuid
        return error

    @property
    def http_status(self) -> int:
        return _STATUS_BY_CATEGORY.get(derive_code(self.code), 400)


def _leaf(parameter: str) -> str:
    """`controlNet[0].guideImage` → `GuideImage` (the part used to build a code)."""
    leaf = re.split(r"[.\[\]]+", parameter.strip("]"))[-1] or parameter
    return leaf[0].upper() + leaf[1:]


def invalid(parameter: str, message: str) -> SimError:
    """A validation error with code `invalid<Leaf>` (e.g. `invalidWidth`)."""
    return SimError(f"invalid{_leaf(parameter)}", message, parameter)


def missing(parameter: str) -> SimError:
    """A validation error with code `missing<Leaf>` (e.g. `missingPositivePrompt`)."""
    return SimError(f"missing{_leaf(parameter)}", f"Missing required parameter '{parameter}'.", parameter)


INVALID_API_KEY_MESSAGE = "Invalid API key. Get one at https://my.runware.ai/signup"


def invalid_api_key() -> dict[str, object]:
    return {
        "code": "invalidApiKey",
        "message": INVALID_API_KEY_MESSAGE,
        "parameter": "apiKey",
        "taskType": "authentication",
    }
