"""An httpx transport that answers from the emulator in process, without a socket."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx

from connectors.openai.emulator.wire import Request, Response

if TYPE_CHECKING:
    from connectors.openai.emulator.emulator import Emulator

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
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle(_request(request, request.read()))
        if response.delay:
            time.sleep(response.delay)
        return _response(request, response)
