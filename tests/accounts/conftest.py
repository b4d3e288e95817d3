"""A real SMTP server (aiosmtpd) for the tests that send mail, and the portal pointed at it."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.test.utils import override_settings


class Mailbox:
    """Every message the SMTP server accepted, parsed, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, *, timeout: float = 10.0) -> EmailMessage:
        """The first message to `to`, waiting for it to arrive (polled, with a deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in self.messages:
                    if to in message["To"]:
                        return message
            time.sleep(0.05)
        raise AssertionError(f"No mail to {to} arrived within {timeout} s; got {len(self.messages)} other(s).")

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in m["To"]]


def body_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def link_in(message: EmailMessage) -> str:
    """The one http(s) link of a message's text."""
    links = re.findall(r"https?://\S+", body_of(message))
    assert len(links) == 1, links
    return links[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox():
    """An SMTP server on a free port of 127.0.0.1, and the portal sending through it over SMTP."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                           EMAIL_PORT=port, EMAIL_USE_TLS=False, DEFAULT_FROM_EMAIL="portal@example.com"):
        yield box
    controller.stop()
