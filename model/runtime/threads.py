"""How many threads numpy's matrix products use (its OpenBLAS), set after numpy is imported.

The network runs one position at a time (or a beam of four): products of a few rows, where a
second thread helps while a core is free (the LSTM over 384 tokens: 30 ms on one thread, 21 ms
on two, 25 ms on two beside a niced busy process such as `heed adapt`) and hurts when both cores
are taken by others (48 ms). More than two gain nothing at these sizes. numpy has no call for
this; OpenBLAS has, under a name that depends on how it was built, in the library numpy loaded
(`numpy.libs/` in its wheels).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
           "openblas_set_num_threads")


def _blas_libraries() -> list[str]:
    """Paths of the BLAS libraries this process has loaded (Linux), else those beside numpy."""
    maps = Path("/proc/self/maps")
    if maps.is_file():
        found = {line.split()[-1] for line in maps.read_text().splitlines() if "blas" in line.rsplit("/", 1)[-1].lower()}
        return sorted(p for p in found if p.startswith("/"))
    numpy_dir = Path(np.__file__).parent
    return [str(p) for d in (numpy_dir.parent / "numpy.libs", numpy_dir / ".dylibs") if d.is_dir()
            for p in d.iterdir() if "blas" in p.name.lower()]


def default_threads() -> int:
    """Two where there are two cores or more (what the server ran torch with before)."""
    return min(2, os.cpu_count() or 1)


def set_blas_threads(n: int) -> bool:
    """Let numpy's matrix products use `n` threads; False where heed finds no way to."""
    for path in _blas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                return True
    log.info("no OpenBLAS thread setting found for numpy on %s; its own default stays", sys.platform)
    return False
