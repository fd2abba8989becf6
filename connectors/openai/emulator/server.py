"""Serving the emulator over HTTP with uvicorn: in a background thread or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from connectors.openai.emulator.app import DROP_EXTENSION
from connectors.openai.emulator.emulator import Emulator


class DroppingH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus a way for the app to close without answering."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope, receive, send) -> None:
            extensions = {**scope.get("extensions", {}), DROP_EXTENSION: self._drop}
            await inner({**scope, "extensions": extensions}, receive, send)

        self.app = app

    def _drop(self) -> None:
        self.transport.abort()


@dataclass(frozen=True)
class RunningServer:
    emulator: Emulator
    host: str
    port: int

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client's base URL is set to: `http://127.0.0.1:<port>/v1`."""
        return f"{self.root_url}/v1"


def make_server(
    emulator: Emulator, host: str = "127.0.0.1", port: int = 8100, log_level: str = "warning"
) -> uvicorn.Server:
    config = uvicorn.Config(
        emulator.app,
        host=host,
        port=port,
        http=DroppingH11Protocol,
        ws="none",
        lifespan="off",
        loop="asyncio",
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
        date_header=False,  # the emulator dates its answers by its own clock
    )
    return uvicorn.Server(config)


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 8100, log_level="info") -> None:
    """Serve in the foreground until interrupted."""
    make_server(emulator, host, port, log_level).run()


@contextmanager
def serve_in_thread(
    emulator: Emulator | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningServer]:
    """Run the HTTP server in a daemon thread on a free port (or `port`) while in the block."""
    emulator = emulator or Emulator()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = make_server(emulator, host, sock.getsockname()[1])
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("The emulator's HTTP server did not start.")
        time.sleep(0.01)
    try:
        yield RunningServer(emulator, host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
