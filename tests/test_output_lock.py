"""One `sparsectr run` per output directory (pipeline/output_lock.py): a second run refuses at once,
naming the holder's pid, and the lock goes with the process that held it, however it ended."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.output_lock import OutputBusyError, output_lock

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = ("import sys, time; from pipeline.output_lock import output_lock\n"
        "with output_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)\n")


def _holder(output_dir: str) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, output_dir], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_into_one_output_refuses_naming_the_holder(tmp_path):
    out = str(tmp_path / "out")
    holder = _holder(out)
    try:
        with pytest.raises(OutputBusyError, match=rf"in use by another sparsectr run \(pid {holder.pid}\)"):
            with output_lock(out):
                pass
        data = tmp_path / "rows.tsv"
        data.write_text("0" + "\t" * 39 + "\n")
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "sparsectr.cli", "run", "--data", str(data), "--output", out],
                                cwd=PROJECT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and f"(pid {holder.pid})" in result.stderr, result.stderr
        assert time.monotonic() - started < 60 and result.stdout == ""
        assert not os.path.exists(os.path.join(out, "metadata.db"))  # nothing ran
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with output_lock(out):  # the kernel released the killed holder's lock
        pass
