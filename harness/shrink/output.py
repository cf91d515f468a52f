"""Publishing the shrunk run directory atomically: the result is written complete into a
staging directory beside the output (``.NAME.new-PID``), then put in place so that at
every instant the output directory is either the old one (the checkpoint of the shrink
so far) or the new complete one, never missing and never half-written, even if the
shrinker is SIGKILLed in between.

On Linux the two directories are swapped with one ``renameat2(RENAME_EXCHANGE)`` call,
then the old one (now under the staging name) is deleted. Where that call is missing
(another OS, a filesystem without it) the old directory is renamed aside
(``.NAME.old-PID``), the new one renamed in, the old one deleted; a kill between the two
renames leaves the old one aside, and `recover` (called before the next shrink into the
same directory) renames it back.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap directories ``a`` and ``b`` in one step; False if this system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(e, os.strerror(e), str(b))


def staging_dir(target: Path) -> Path:
    """Where the new contents of ``target`` are written before `replace_dir` (absent)."""
    target = Path(target)
    path = target.with_name(f".{target.name}.new-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)
    return path


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old-{os.getpid()}")


def replace_dir(new: Path, target: Path, exchange: bool = True) -> None:
    """Put the complete directory ``new`` at ``target`` (replacing what is there) so that
    ``target`` is never missing nor partly written; ``new`` is gone afterwards.
    ``exchange=False``: the rename-aside way, as where the exchange call is missing."""
    new, target = Path(new), Path(target)
    if not target.exists():
        os.rename(new, target)
        return
    if exchange and _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # it holds the old contents now
        return
    aside = _aside(target)
    shutil.rmtree(aside, ignore_errors=True)
    os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside, ignore_errors=True)


def recover(target: Path) -> None:
    """After a shrink was killed while publishing: if ``target`` is missing but an old
    copy was renamed aside, rename it back; remove staging directories left behind."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return
    asides = sorted(parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not target.exists() and asides:
        os.rename(asides.pop(), target)
    for p in asides + list(parent.glob(f".{target.name}.new-*")):
        shutil.rmtree(p, ignore_errors=True)
