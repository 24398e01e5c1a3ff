"""`vigil webhook-sink`: a small receiver that verifies signatures and prints/stores alerts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path

from aiohttp import web

from streams.webhooks import load_secret, verify

log = logging.getLogger(__name__)


class WebhookSink:
    """Receives signed webhooks on 127.0.0.1; keeps what arrived, appends it to `out`."""

    def __init__(self, secret: str, *, out: Path | None = None, quiet: bool = False) -> None:
        self.secret, self.out, self.quiet = secret, out, quiet
        self.received: list[dict] = []
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        received_at = time.time()
        ok = verify(self.secret, body, dict(request.headers))
        record = {"received_at": received_at, "webhook_id": request.headers.get("webhook-id"),
                  "verified": ok, "path": request.path}
        if not ok:
            self._keep(record)
            return web.json_response({"error": "bad signature"}, status=401)
        payload = json.loads(body)
        record["payload"] = payload
        self._keep(record)
        if not self.quiet:
            alert = payload.get("alert", {})
            latency = received_at - alert["ingested_at"] if alert.get("ingested_at") else None
            print(f"received {payload.get('severity')} {payload.get('alert_id')} "
                  f"x{payload.get('grouped_count', 1)}"
                  + (f" {latency:.2f}s after ingest" if latency is not None else ""), flush=True)
        return web.json_response({"ok": True})

    def _keep(self, record: dict) -> None:
        self.received.append(record)
        if self.out:
            with open(self.out, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    async def start(self, port: int = 0) -> int:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


def _cmd_sink(args) -> int:
    secret = load_secret(env=args.secret_env, file=args.secret_file)
    sink = WebhookSink(secret, out=Path(args.out) if args.out else None, quiet=args.quiet)

    async def main() -> None:
        port = await sink.start(args.port)
        print(f"webhook-sink listening on http://127.0.0.1:{port}/", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("webhook-sink", help="receive, verify and print/store webhooks")
    p.add_argument("--port", type=int, default=18090)
    p.add_argument("--secret-env", default="VIGIL_WEBHOOK_SECRET")
    p.add_argument("--secret-file")
    p.add_argument("--out", help="append received webhooks here as JSON lines")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_sink)
