"""Progress lines for long pipeline runs, and quiet logs otherwise.

TFX's LocalDagRunner logs `Component X is running.` / `is finished.` and the
launcher logs whether an execution was cached; this turns those into one line
per component on stderr and keeps the rest of the library chatter out.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import warnings

_RUNNING = re.compile(r"(?:Component|node) (\S+) is running\.")
_FINISHED = re.compile(r"(?:Component|node) (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")
_FAILED = re.compile(r"Execution \d+ failed\.")


def quiet_environment(verbose: bool = False) -> None:
    """Hides library warnings in this process and in Beam's worker processes."""
    if verbose:
        return
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    warnings.simplefilter("ignore")
    # TensorFlow's Python logger (deprecation notices); tf.get_logger() returns this one.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


class _ComponentProgress(logging.Filter):
    def __init__(self, out, verbose: bool):
        super().__init__()
        self._out = out
        self._verbose = verbose
        self._started: dict[str, float] = {}
        self._current = ""
        self._cached: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if m := _RUNNING.match(message):
            self._current = m.group(1)
            self._started[self._current] = time.monotonic()
            print(f"[{time.strftime('%H:%M:%S')}] {self._current} running...", file=self._out, flush=True)
        elif _FAILED.match(message):
            took = time.monotonic() - self._started.get(self._current, time.monotonic())
            print(f"[{time.strftime('%H:%M:%S')}] {self._current} FAILED ({took:.1f}s)", file=self._out, flush=True)
        elif _CACHED.match(message):
            self._cached.add(self._current)
        elif m := _FINISHED.match(message):
            name = m.group(1)
            took = time.monotonic() - self._started.get(name, time.monotonic())
            how = "cached" if name in self._cached else "done"
            print(f"[{time.strftime('%H:%M:%S')}] {name} {how} ({took:.1f}s)", file=self._out, flush=True)
        return self._verbose


@contextlib.contextmanager
def component_progress(verbose: bool = False, out=sys.stderr):
    """Prints a line as each TFX component starts and ends."""
    from absl import logging as absl_logging

    absl_logger = absl_logging.get_absl_logger()
    progress = _ComponentProgress(out, verbose)
    absl_logger.addFilter(progress)
    old_level = absl_logger.level
    absl_logger.setLevel(logging.INFO)
    # TensorFlow's SavedModel export (in the Trainer, in this process) sets
    # absl's verbosity to FATAL and back to WARNING, which would hide the
    # INFO records this filter reads; keep INFO while the pipeline runs (the
    # handler's level still decides what is printed).
    absl_logger.setLevel = lambda level: None
    handler = absl_logging.get_absl_handler()
    old_handler_level = handler.level
    quiet_loggers = ("apache_beam", "tensorflow", "tfx", "root")
    old_levels = {name: logging.getLogger(name).level for name in quiet_loggers}
    if not verbose:  # a failure is reported in one line by the summary; --verbose shows its traceback
        handler.setLevel(logging.CRITICAL)
        for name in quiet_loggers:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        absl_logger.removeFilter(progress)
        del absl_logger.setLevel  # back to the class's method
        absl_logger.setLevel(old_level)
        handler.setLevel(old_handler_level)
        for name, level in old_levels.items():
            logging.getLogger(name).setLevel(level)
