"""FIFOs for tests of code that must never open them to read: :func:`fifo_with_writer`
keeps a writer waiting, so code that wrongly opens the FIFO to read is released (it then
reads nothing and fails the test on its result) instead of hanging the test run."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def fifo_with_writer(path: Path, data: bytes = b"") -> Iterator[Path]:
    """Make the FIFO ``path``; while the block runs a thread keeps opening it to write
    (each open returns when someone opens it to read), writing ``data`` (if any) and
    closing it at once."""
    os.mkfifo(path)
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            fd = os.open(path, os.O_WRONLY)
            if data:
                with contextlib.suppress(OSError):  # the reader may be gone already
                    os.write(fd, data)
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # releases the writer's open
        os.close(fd)
        thread.join(5)
