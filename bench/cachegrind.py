"""Count a Python child's instructions with valgrind's cachegrind (no cache simulation):
the steady number for speed on a shared machine, where seconds move with the load."""

from __future__ import annotations

import re
import subprocess
import sys


def instructions(args: list[str], env: dict[str, str], tree: str) -> int:
    """Instructions of ``python ARGS`` (this interpreter) under cachegrind, its last
    process's count; exits with valgrind's output when it printed none (``tree`` names
    the source tree in that message)."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, *args]
    err = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    found = re.findall(r"I\s+refs:\s+([\d,]+)", err)
    if not found:
        raise SystemExit(f"valgrind printed no count for {tree}: {err[-500:]}")
    return int(found[-1].replace(",", ""))
