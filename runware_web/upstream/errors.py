"""The one place where upstream failures become messages a person can act on."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import aiohttp
from django.conf import settings
from django.db import DatabaseError

# Stable codes of runware-sdk's RunwareError (protocol reference §6.3) → what to tell a member.
MESSAGES: dict[str, str] = {
    "validation": "Runware refused a setting. Change it and try again.",
    "auth": "Runware refused the portal's API key. Ask an administrator to check RUNWARE_API_KEY.",
    "quota": "The Runware account has run out of credit. Ask an administrator to top it up.",
    "rateLimit": "Runware is busy right now. Wait a minute and try again.",
    "safety": "The safety filter blocked this request. Rephrase the prompt or use another image.",
    "provider": "The model's provider failed to produce a result. Try again or pick another model.",
    "timeout": "The task took too long and timed out. Try again, perhaps with fewer images or steps.",
    "notFound": "Runware does not know that model or task. Check the model and try again.",
    "serverError": "Runware had an internal error. Try again in a minute.",
    "connection": (
        "The connection to Runware was lost before the result arrived. The task may have been "
        "billed: check History before trying again."
    ),
    "unavailable": (
        "Runware cannot be reached right now. The portal keeps trying; try again in a minute."
    ),
    "aborted": "The task was stopped.",
    "unknown": "Runware returned an unexpected error. Try again; if it keeps happening, tell an administrator.",
    # Not Runware's: one of the portal's own services (its database, Redis) failed meanwhile.
    "internal": (
        "The portal could not reach one of its own services. Try again in a minute; if it keeps "
        "happening, tell an administrator."
    ),
}

# Packages whose errors are the portal's own dependencies failing, never Runware.
_OWN_DEPENDENCIES = frozenset({"redis", "channels_redis"})


@dataclass
class UpstreamError(Exception):
    """A failure worth showing: a stable code, a message for a person, the field it concerns."""

    code: str
    message: str
    parameter: str = ""
    detail: str = ""

    def __str__(self) -> str:
        return self.message

    @property
    def full_message(self) -> str:
        """The message, with Runware's own wording when it adds something (and names no address:
        a socket library's words about a failed connection are for the log only)."""
        if self.detail and self.detail not in self.message and not _ADDRESS.search(self.detail):
            return f"{self.message} ({self.detail})"
        return self.message


# Something that names where a service lives: a URL, an IPv4 address, a host:port.
_ADDRESS = re.compile(r"://|\b\d{1,3}(?:\.\d{1,3}){3}\b|[\w\]]:\d{2,5}\b")


def redact(text: str) -> str:
    """Remove the API key from any text that may reach a person or a log."""
    key = settings.RUNWARE_API_KEY
    if key and key in text:
        text = text.replace(key, "[redacted]")
    return text


def from_sdk(exc: BaseException) -> UpstreamError:
    """Map a runware-sdk error (or anything else raised while talking to Runware)."""
    if _own_dependency(exc):  # its text may name an internal address: never shown
        return UpstreamError(code="internal", message=MESSAGES["internal"])
    code = getattr(exc, "code", None) or _network_code(exc)
    raw_message = redact(str(getattr(exc, "message", "") or exc))[:500]
    parameter = getattr(exc, "parameter", None) or ""
    if code == "connection" and _never_connected(raw_message):
        code = "unavailable"
    message = MESSAGES.get(code, MESSAGES["unknown"])
    if code == "validation" and parameter:
        message = f"Runware refused the value of “{parameter}”. Change it and try again."
    return UpstreamError(code=code, message=message, parameter=parameter, detail=raw_message)


def _network_code(exc: BaseException) -> str:
    """Errors raised below the SDK (a stream cut off, a socket timing out) by what they mean."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout"
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return "connection"
    return "unknown"


def _own_dependency(exc: BaseException) -> bool:
    """A failure of the database or Redis, raised while a task was handled: not Runware's."""
    return isinstance(exc, DatabaseError) or type(exc).__module__.partition(".")[0] in _OWN_DEPENDENCIES


def _never_connected(message: str) -> bool:
    return "connection failed" in message.lower() or "not connected" in message.lower()


class Refused(Exception):
    """The portal would not start the task (budget, rate limit); `message` says why, for a person.

    `code` is which limit said no, as the SDK's stable codes name it ("quota" for a budget,
    "rateLimit"): the Runware-compatible endpoint answers scripts with it."""

    def __init__(self, message: str, *, field: str = "", code: str = "quota") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
