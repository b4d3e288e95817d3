"""Daphne as the portal runs it: a socket message over MAX_FRAME_BYTES is closed with 1009.

RFC 6455's "Message Too Big" (1009) is a code only the WebSocket implementation may send: autobahn,
under Daphne, refuses it from an application (only 1000 and 3000-4999 may be sent from there). So
the limit is autobahn's own: `PortalServer` sets its message and frame limits to MAX_FRAME_BYTES,
and turns off `failByDrop`, with which autobahn drops the TCP connection (the page sees 1006, no
reason) on a message over the limit; without it, autobahn performs the closing handshake with 1009
as soon as a frame's header announces too much, and discards the rest unread into the message. The
page (static/js/portal.js, which holds the same number) then says why and reconnects. (Other
failures, a protocol error or invalid UTF-8, likewise get their code, 1002 or 1007, not a drop.)

Every start of the portal goes through here: `python -m runware_web.live.server` takes Daphne's own
command line (README, docs/deployment.md, tests/workers.py), and `manage.py up` and the browser
tests' in-thread server build a `PortalServer`. Whatever `--websocket-max-message-size` says, the
portal's limit wins: the page promises it.
"""

from __future__ import annotations

from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server

#: The largest message a page sends (a long prompt, a form); images go through the upload field.
#: static/js/portal.js holds the same number.
MAX_FRAME_BYTES = 256 * 1024
#: RFC 6455's "Message Too Big": what a socket sent a larger message is closed with.
CLOSE_TOO_BIG = 1009


class PortalServer(Server):
    """Daphne's server, whose sockets close with 1009 on a message over MAX_FRAME_BYTES."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["websocket_max_message_size"] = MAX_FRAME_BYTES  # the whole message, over its fragments
        kwargs["websocket_max_frame_size"] = MAX_FRAME_BYTES
        super().__init__(*args, **kwargs)

    # Daphne makes its WebSocket factory in run(), then sets its limits and starts the reactor with
    # no step between; the factory is set up as it is assigned, before any socket is accepted.
    @property
    def ws_factory(self) -> Any:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: Any) -> None:
        factory.setProtocolOptions(failByDrop=False)  # a closing handshake with a code, not a dropped connection
        self._ws_factory = factory


class PortalCommandLine(CommandLineInterface):
    """Daphne's command line, serving with `PortalServer`."""

    server_class = PortalServer


def main() -> None:
    PortalCommandLine.entrypoint()


if __name__ == "__main__":
    main()
