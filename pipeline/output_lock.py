"""One `sparsectr run` per output directory at a time: an OS file lock (flock) on
OUTPUT/.sparsectr.lock, released when the run ends, however it ends (the kernel drops it with the
process). A second run refuses at once, naming the holder's pid, instead of both writing one
ML Metadata store and each reading the other's executions."""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Iterator

LOCK_FILE = ".sparsectr.lock"


class OutputBusyError(RuntimeError):
    """Another process holds the output directory."""


@contextlib.contextmanager
def output_lock(output_dir: str) -> Iterator[None]:
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise OutputBusyError(f"{output_dir} is in use by another sparsectr run (pid {holder}); wait for it to "
                                  "finish, or give another --output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
