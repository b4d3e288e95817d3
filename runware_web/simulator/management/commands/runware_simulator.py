"""`python manage.py runware_simulator`: serve the Runware simulator until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from runware_web.simulator.server import Simulator


class Command(BaseCommand):
    help = "Run the local Runware-compatible simulator (WebSocket, REST and SSE on /v1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--latency", type=float, default=0.4, help="seconds per result (0 = no delay)")
        parser.add_argument(
            "--stream-chunk-delay", type=float, default=0.03, help="seconds between SSE chunks"
        )
        parser.add_argument(
            "--media-latency-scale", type=float, default=1.0,
            help="multiplies each video/audio/3D model's nominal latency (0 = instant)",
        )
        parser.add_argument(
            "--balance", type=Decimal, default=Decimal("1000"), help="starting balance in USD"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: asyncio.run cancels _serve, which stops
            asyncio.run(self._serve(options))
        self.stdout.write("Runware simulator stopped.")

    async def _serve(self, options: dict[str, Any]) -> None:
        simulator = Simulator(
            latency=options["latency"],
            stream_chunk_delay=options["stream_chunk_delay"],
            starting_balance=options["balance"],
            media_latency_scale=options["media_latency_scale"],
        )
        await simulator.start(options["host"], options["port"])
        self.stdout.write(self.style.SUCCESS("Runware simulator listening"))
        self.stdout.write(f"  WebSocket: {simulator.ws_url}")
        self.stdout.write(f"  REST/SSE:  {simulator.http_url}")
        self.stdout.write(f"  Files:     {simulator.base_url}/files/")
        self.stdout.write(f"  Content:   {simulator.content_url}/models")
        self.stdout.write("Point the SDK at it with ws_base_url / http_base_url. Ctrl-C stops.")
        try:
            await asyncio.Event().wait()
        finally:
            await simulator.stop()
