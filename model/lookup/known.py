"""What other code says can come at the cursor, wherever the completer asks:

- after a dot, what the receiver has (`receivers.py`; after `self.`, also what the class
  defines below the cursor, `class_below.py`);
- at a name's start in an import statement, what it can import (`import_spot.py`);
- at an argument's start, the parameters of the function called (`calls.py`).

Each name takes an identity in the document's table (`id_of`), so that the model can rank the
ones it never saw; `runtime/adjust.py` raises them in the model's distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from heed.model.lookup.calls import call_names, call_spot
from heed.model.lookup.class_below import class_below, parameters_below
from heed.model.lookup.classes import ClassTokens
from heed.model.lookup.import_spot import import_spot, spot_names
from heed.model.lookup.imports import stream_binding
from heed.model.lookup.modules import ModuleIndex
from heed.model.lookup.receivers import Lookup, ReceiverNames, receiver_names
from heed.model.text.cursor import is_after_dot
from heed.model.text.stream import TokenStream


def known_names(stream: TokenStream, start: int, texts: Sequence[str], ids: np.ndarray, roles: np.ndarray, ext: np.ndarray,
                tokens: ClassTokens, index: ModuleIndex, origin: Path | None, id_of: Callable[[str], int]) -> ReceiverNames | None:
    """What can come at `start` (where the name being typed starts) in `stream`, the document at
    `origin`; `texts`, `ids`, `roles`, `ext`: the model's context up to there."""
    after_dot = is_after_dot(stream.text, start)
    if not after_dot and (spot := import_spot(stream.text, start)) is not None:
        return spot_names(spot, index, origin, id_of)
    call = None if after_dot else call_spot(texts)
    if not after_dot and call is None:
        return None
    look = Lookup(tokens, ids, roles, ext, texts, index, origin, lambda name: stream_binding(stream, name, start), id_of,
                  lambda: class_below(stream.text, start), lambda name: parameters_below(stream.text, start, name))
    return call_names(call, look) if call is not None else receiver_names(look)
