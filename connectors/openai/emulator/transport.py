"""An httpx transport that answers from the emulator in process, without a socket."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from connectors.openai.emulator.wire import Request, Response

_DROPPED = "Server disconnected without sending a response."


def _request(request: httpx.Request, body: bytes) -> Request:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return Request(request.method, request.url.path, request.url.query, headers, body)


def _response(request: httpx.Request, response: Response) -> httpx.Response:
    if response.drop:
        raise httpx.RemoteProtocolError(_DROPPED, request=request)
    return httpx.Response(
        response.status, headers=response.headers, content=response.body, request=request
    )


class EmulatorTransport(httpx.BaseTransport):
    """Answers each request with `handle` (the emulator's)."""

    def __init__(self, handle: Callable[[Request], Response]) -> None:
        self.handle = handle

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.handle(_request(request, request.read()))
        if response.delay:
            time.sleep(response.delay)
        return _response(request, response)
