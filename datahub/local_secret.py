"""Secrets made once per installation and kept in a file under var/ (mode 0600)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


def local_secret(path: Path, make: Callable[[], str]) -> str:
    """Read the secret kept in `path`, making it with `make()` the first time.

    Two processes starting together (the web server and the worker) get the same one:
    only the process that creates the file writes it, the other waits for its text.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(make())
    for _ in range(100):
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.02)  # created an instant ago by another process, not yet written
    raise RuntimeError(f"{path} is empty: delete it, or set the secret in the environment.")
