"""`vigil webhook-sink`: a small receiver on 127.0.0.1 that verifies Standard Webhooks signatures,
prints a one-line summary per notification and/or appends what arrived to a JSON-lines file.

Usable in process too: `sink = WebhookSink(secret); port = await sink.start(); ...;
await sink.stop()`; `sink.received` holds every request (verified or not).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path

from aiohttp import web

from streams.dispatch.webhooks import secret_from_args, verify

log = logging.getLogger(__name__)


def summary_line(payload: dict, *, received_at: float, redelivery: bool = False) -> str:
    """One line: severity, risk, alert id, folded count, top reasons, seconds since ingest."""
    ingested = payload.get("ingested_at") or (payload.get("alert") or {}).get("ingested_at")
    reasons = "; ".join(r.get("detail") or r.get("code", "") for r in
                        (payload.get("reasons") or [])[:3])
    parts = [f"{str(payload.get('severity', '?')).upper():<8}",
             f"risk {float(payload.get('risk', 0.0)):.2f}", str(payload.get("alert_id"))]
    if payload.get("grouped_count", 1) > 1:
        parts.append(f"(+{payload['grouped_count'] - 1} folded)")
    if ingested:
        parts.append(f"{received_at - float(ingested):.2f}s after ingest")
    if redelivery:
        parts.append("REDELIVERY")
    return " ".join(parts) + (f" | {reasons}" if reasons else "")


class WebhookSink:
    """Receives signed webhooks on 127.0.0.1; keeps what arrived, appends it to `out`."""

    def __init__(self, secret: str, *, out: Path | None = None, quiet: bool = False) -> None:
        self.secret, self.out, self.quiet = secret, out, quiet
        self.received: list[dict] = []
        self.seen_ids: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        received_at = time.time()
        msg_id = request.headers.get("webhook-id", "")
        ok = verify(self.secret, body, dict(request.headers))
        record = {"received_at": received_at, "webhook_id": msg_id, "verified": ok,
                  "path": request.path,
                  "webhook_timestamp": request.headers.get("webhook-timestamp")}
        if not ok:
            self._keep(record)
            log.warning("rejected a webhook with a bad signature (id %s)", msg_id or "-")
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            payload = json.loads(body)
        except ValueError:
            self._keep(record | {"error": "not JSON"})
            return web.json_response({"error": "not JSON"}, status=400)
        redelivery = msg_id in self.seen_ids
        self.seen_ids.add(msg_id)
        record |= {"redelivery": redelivery, "payload": payload}
        self._keep(record)
        if not self.quiet:
            print(summary_line(payload, received_at=received_at, redelivery=redelivery),
                  flush=True)
        return web.json_response({"ok": True})

    def _keep(self, record: dict) -> None:
        self.received.append(record)
        if self.out:
            with open(self.out, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    def alert_ids(self) -> set[str]:
        """Every alert id that arrived in a verified notification (folded ones included)."""
        return {a for r in self.received if r["verified"] and "payload" in r
                for a in r["payload"].get("grouped_alert_ids", [r["payload"].get("alert_id")])}

    async def start(self, port: int = 0) -> int:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None


def _cmd_sink(args) -> int:
    sink = WebhookSink(secret_from_args(args), out=Path(args.out) if args.out else None,
                       quiet=args.quiet)

    async def main() -> None:
        port = await sink.start(args.port)
        print(f"webhook-sink listening on http://127.0.0.1:{port}/", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sink.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("webhook-sink", help="receive, verify and print/store webhooks")
    p.add_argument("--port", type=int, default=18090, help="port on 127.0.0.1 (0: any free)")
    p.add_argument("--secret-env", default="VIGIL_WEBHOOK_SECRET")
    p.add_argument("--secret-file", help="read the secret from this file instead")
    p.add_argument("--out", help="append received webhooks here as JSON lines")
    p.add_argument("--quiet", action="store_true", help="no line per notification")
    p.set_defaults(func=_cmd_sink)
