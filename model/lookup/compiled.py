"""Modules with no source to read: those compiled into the interpreter, and a short list of the
standard library's extension modules. These are imported to list their names: they run no
user code and print nothing (unlike `readline`, which would write to the protocol's stdout).
Every other module is read from its source (`module_source.py`), never imported.
"""

from __future__ import annotations

import functools
import importlib
import inspect

from heed.model.lookup.module_source import Module

SAFE_EXTENSIONS = frozenset({"math", "cmath", "array", "binascii", "select", "zlib", "unicodedata", "_socket",
                             "_struct", "_datetime", "_random", "_bisect", "_heapq", "_json", "_csv", "_pickle"})


@functools.cache  # they cannot change while the process runs
def compiled_module(name: str) -> Module | None:
    """A module compiled into the interpreter, or one of SAFE_EXTENSIONS: it has no source to
    read (None where this interpreter lacks it)."""
    try:
        mod = importlib.import_module(name)
    except ImportError:
        return None
    names = {}
    for n in dir(mod):
        v = getattr(mod, n, None)
        names[n] = ("module" if inspect.ismodule(v) else "class" if inspect.isclass(v)
                    else "function" if callable(v) else "variable")
    return Module(name, None, names)
