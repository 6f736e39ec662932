"""One way for a directory to appear whole: it is written aside and swapped into place.

Export, training and checkpoints all write into a hidden sibling directory and call
``swap_dirs``, so a reader (the app, a resumed run) sees the old directory or the new one,
never a half-written mix, and a failed run leaves the old one as it was.
"""

from __future__ import annotations

import ctypes
import os
import shutil
from functools import cache
from pathlib import Path


@cache
def libc() -> ctypes.CDLL:
    """The C library, for the calls the standard library does not wrap (renameat2, sigaction)."""
    return ctypes.CDLL(None, use_errno=True)


def swap_dirs(new: Path, out: Path) -> None:
    """Put ``new`` at ``out`` so a reader sees the old or the new directory, never a mix.

    Linux renameat2(RENAME_EXCHANGE) swaps the two names in one step; elsewhere two renames
    leave ``out`` absent for an instant (never half-written).
    """
    if not out.exists():
        os.rename(new, out)
        return
    swap = getattr(libc(), "renameat2", None)
    at_cwd, exchange = -100, 2
    if swap is not None and swap(at_cwd, os.fsencode(new), at_cwd, os.fsencode(out), exchange) == 0:
        shutil.rmtree(new)  # now holds the previous checkpoint
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.rename(out, old)
    os.rename(new, out)
    shutil.rmtree(old)
