"""The emulator as a raw ASGI application (no framework, no Django settings)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from connectors.openai.emulator.wire import Request, Response

DROP_EXTENSION = "emulator.drop"  # set by server.py's protocol: closes the connection


def asgi_app(handle: Callable[[Request], Response]):
    """An ASGI app answering each HTTP request with `handle` (the emulator's)."""

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in scope.get("headers", [])
            },
            await _body(receive),
        )
        response = handle(request)
        if response.delay:
            await asyncio.sleep(response.delay)
        if response.drop:
            await _drop(scope, send)
            return
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return app


async def _body(receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _drop(scope, send) -> None:
    """Close without answering; other servers get headers and then a closed connection."""
    drop = scope.get("extensions", {}).get(DROP_EXTENSION)
    if drop is not None:
        drop()
        await asyncio.sleep(0)
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1024")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
