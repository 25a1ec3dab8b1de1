"""Prometheus counters (optional: served when metrics.port is set)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, start_http_server

REGISTRY = CollectorRegistry()
MESSAGES_IN = Counter("complaints_messages_in", "Messages taken in", ["channel", "kind"], registry=REGISTRY)
CASES = Counter("complaints_cases_opened", "Cases opened", ["channel"], registry=REGISTRY)
LETTERS = Counter("complaints_letters_sent", "Letters sent to residents", ["kind"], registry=REGISTRY)
QUARANTINED = Counter("complaints_quarantined", "Messages quarantined", registry=REGISTRY)
BREACHES = Counter("complaints_clocks_breached", "Deadlines breached (counted once each)", ["target"],
                   registry=REGISTRY)


async def on_intake(kind: str, details: dict) -> None:
    msg = details.get("message")
    channel = getattr(msg, "channel", "unknown")
    MESSAGES_IN.labels(channel, kind).inc()
    if kind == "new_case":
        CASES.labels(channel).inc()


async def on_letter(kind: str, details: dict) -> None:
    LETTERS.labels(details.get("kind", "unknown")).inc()


async def on_case_event(kind: str, details: dict) -> None:
    if kind == "deadline_breached":
        BREACHES.labels((details["event"].data or {}).get("target", "unknown")).inc()


def serve(host: str, port: int) -> int:
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return server.server_address[1]
