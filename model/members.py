"""What can follow a dot: the receiver's usual attributes, the members of `self`'s class, and
the names the code says the receiver has.

After `os.` the vocabulary softmax spreads its mass over every attribute name it knows; the
training corpus says which ones actually follow `os`. `MemberTable` keeps, for each receiver
in the vocabulary, how often each attribute followed it in the training split (names outside
the vocabulary counted together as `<unk>`), and re-ranks the distribution after a dot as a
product of experts:

    p'(a) ~ p(a) * (q(a | receiver) + BETA) ** ALPHA

where a name of the document outside the vocabulary takes q(<unk> | receiver), and ALPHA is
scaled by the share of the attributes this document already put after the receiver that the
table knows (a `types.` of another library is not the standard library's). After `self.`
or `cls.` the corpus knows nothing about this class, but the document does: the methods and
attributes the enclosing class has defined so far (`class_members`) are boosted, and what its
bases define a little less. After a module (`cst.`, `os.path.`) or an instance of a class
whose name shows (`node: cst.Name`), `model/receivers.py` looks up the names it has and
`module_rerank` raises them, including the ones neither the vocabulary nor the document has
(they take identities in the document's table).

The constants were tuned on the validation split of the training corpus, never on the
evaluation set (docs/MODEL_CARD.md). The table is saved beside the weights as
`members.safetensors`; a model folder without it works as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from heed.model.modules import Module
from heed.model.roles import ROLE_ID
from heed.model.vocab import Vocab

ALPHA = 0.2  # how strongly the corpus table re-ranks
BETA = 1e-5  # what an attribute never seen after the receiver keeps
CLASS_BOOST = 5.0  # a member of the enclosing class counts this many times more ...
CLASS_FLOOR = 0.01  # ... plus this much probability, so that one the network overlooked shows up
INHERITED_SCALE = 0.4  # what the class's bases define counts this much of a member of its own
# A name the module the receiver is defines (or the class it is an instance of: other values
# for those changed nothing on the validation sample) counts this many times more ...
MODULE_BOOST = 10.0
MODULE_FLOOR = 1.0  # ... plus this much (before normalising), shared by all its names
SELF_NAMES = ("self", "cls")
FILE = "members.safetensors"


@dataclass
class MemberTable:
    """Attribute counts per receiver, in CSR form over vocabulary ids."""

    receivers: np.ndarray  # [R] sorted receiver ids
    starts: np.ndarray  # [R + 1] each receiver's run in `attrs`/`counts`
    attrs: np.ndarray  # attribute ids (the `<unk>` id: any name outside the vocabulary)
    counts: np.ndarray

    @staticmethod
    def build(ids: np.ndarray, vocab: Vocab) -> MemberTable:
        """From a training split's token ids (files one after another: a dot never starts a file)."""
        ids = np.asarray(ids, np.int64)
        at = np.flatnonzero(ids[1:-1] == vocab.index.get(".", -1)) + 2  # the token after each dot
        names = np.array([t.isidentifier() for t in vocab.tokens]) & np.array(vocab.answerable())
        names[vocab.unk] = True
        keep = names[ids[at]] & names[ids[at - 2]] & (ids[at - 2] != vocab.unk)
        pairs, counts = np.unique(ids[at - 2][keep] * len(vocab) + ids[at][keep], return_counts=True)
        recv, attrs = np.divmod(pairs, len(vocab))
        receivers, first = np.unique(recv, return_index=True)
        return MemberTable(receivers.astype(np.int32), np.append(first, len(pairs)).astype(np.int64),
                           attrs.astype(np.int32), counts.astype(np.int32))

    def merged(self, other: MemberTable) -> MemberTable:
        """Both tables' counts added (fine-tuning keeps what the base model's corpus knew)."""
        pairs = np.concatenate([self._pairs(), other._pairs()])
        counts = np.concatenate([self.counts, other.counts]).astype(np.int64)
        keys, inverse = np.unique(pairs, axis=0, return_inverse=True)
        total = np.zeros(len(keys), np.int64)
        np.add.at(total, inverse.ravel(), counts)
        receivers, first = np.unique(keys[:, 0], return_index=True)
        return MemberTable(receivers.astype(np.int32), np.append(first, len(keys)).astype(np.int64),
                           keys[:, 1].astype(np.int32), np.minimum(total, 2**31 - 1).astype(np.int32))

    def _pairs(self) -> np.ndarray:
        return np.stack([np.repeat(self.receivers, np.diff(self.starts)), self.attrs], 1)

    def of(self, receiver: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(attribute ids, their share) after `receiver`, or None if it was never seen before a dot."""
        i = int(np.searchsorted(self.receivers, receiver))
        if i >= len(self.receivers) or self.receivers[i] != receiver:
            return None
        a, b = self.starts[i], self.starts[i + 1]
        counts = self.counts[a:b].astype(np.float64)
        return self.attrs[a:b], counts / counts.sum()

    def save(self, folder: Path) -> None:
        tmp = folder / (FILE + ".tmp")  # renamed into place once whole, as the weights are
        save_file({k: getattr(self, k) for k in ("receivers", "starts", "attrs", "counts")}, str(tmp),
                  metadata={"format": "heed-members"})
        os.replace(tmp, folder / FILE)

    @staticmethod
    def load(folder: Path, vocab_size: int) -> MemberTable | None:
        """The folder's table; None if it has none. A table that does not fit raises ValueError."""
        path = folder / FILE
        if not path.is_file():
            return None
        arrays = load_file(str(path))
        table = MemberTable(*(arrays[k] for k in ("receivers", "starts", "attrs", "counts")))
        ok = (
            table.starts.ndim == 1 and len(table.starts) == len(table.receivers) + 1 and table.starts[0] == 0
            and table.starts[-1] == len(table.attrs) == len(table.counts) and bool((np.diff(table.starts) > 0).all())
            and bool((table.counts > 0).all())
            and all(len(x) == 0 or (x.min() >= 0 and x.max() < vocab_size) for x in (table.receivers, table.attrs))
        )
        if not ok:
            raise ValueError(f"{path} does not fit a vocabulary of {vocab_size}")
        return table


@dataclass
class ReceiverNames:
    """What code outside the context's tokens says can follow its final dot (`model/receivers.py`)."""

    module: np.ndarray | None = None  # identities of the names of the module (or the class) the receiver is ...
    unseen: int = 0  # ... and how many more it has with no identity here (`heed eval`)
    why: str = "module"  # "module": the receiver is a module; "type": an instance or a class
    inherited: np.ndarray | None = None  # after `self.`: identities of what the class's bases define
    kinds: dict[str, str] = field(default_factory=dict)  # what each name found elsewhere is, for the popup
    source: Module | None = None  # the module the receiver is (for its names' kinds, followed on demand)


@dataclass
class Rerank:
    """How the distribution after one dot changes: p' ~ p * scale + floor."""

    scale: np.ndarray  # [n_ext]
    floor: np.ndarray | None  # [n_ext], or None
    why: str  # "corpus": the receiver's usual attributes; "class": the enclosing class's members
    # (and its bases'); "module": the names of the module the receiver is; "type": of its class
    unseen: int = 0  # names the receiver has with no identity here, each given `unseen_floor` (`heed eval`)
    unseen_floor: float = 0.0

    def apply(self, probs: torch.Tensor) -> torch.Tensor:
        out = probs * torch.from_numpy(self.scale).to(probs.dtype)
        if self.floor is not None:
            out = out + torch.from_numpy(self.floor).to(probs.dtype)
        total = out.sum() + self.unseen * self.unseen_floor
        return out / total if total > 0 else probs

    def unseen_prob(self, probs: torch.Tensor) -> float:
        """What each of the `unseen` names gets from `apply(probs)`."""
        total = float((probs * torch.from_numpy(self.scale).to(probs.dtype)).sum()) + self.unseen * self.unseen_floor
        if self.floor is not None:
            total += float(self.floor.sum())
        return self.unseen_floor / total if total > 0 else 0.0

    def then_module(self, names: np.ndarray, unseen: int = 0, why: str = "module") -> Rerank:
        """This re-ranking followed by `module_rerank`'s."""
        other = module_rerank(names, len(self.scale), unseen, why)
        floor = other.floor if self.floor is None else self.floor * other.scale + other.floor
        return Rerank(self.scale * other.scale, floor, why, unseen, other.unseen_floor)


def module_rerank(names: np.ndarray, n_ext: int, unseen: int = 0, why: str = "module") -> Rerank:
    """After a receiver that is an imported module (`why` "module") or an instance of a known
    class ("type"): `names` (the identities of what it has) raised over every other, and given
    a share of the floor each, as are the `unseen` names it has with no identity here."""
    names = names[(names >= 0) & (names < n_ext)]
    scale = np.full(n_ext, 1 / MODULE_BOOST, np.float32)
    scale[names] = 1.0
    each = MODULE_FLOOR / MODULE_BOOST / max(len(names) + unseen, 1)
    floor = np.zeros(n_ext, np.float32)
    floor[names] = each
    return Rerank(scale, floor, why, unseen, each)


class Members:
    """The re-ranking after a dot, for one vocabulary (and the corpus table, if the model has one)."""

    def __init__(self, vocab: Vocab, table: MemberTable | None):
        self.table = table
        self.V = len(vocab)
        get = vocab.index.get  # -1 for a token a (small) vocabulary lacks: it then never matches
        self.dot, self.unk = get(".", -1), vocab.unk
        self.selves = [get(s, -1) for s in SELF_NAMES]
        self.class_id, self.def_id = get("class", -1), get("def", -1)
        self.indent, self.dedent, self.newline = (get(k, -1) for k in ("<indent>", "<dedent>", "<newline>"))

    def rerank(self, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray, n_ext: int, tail: Sequence[int] = (),
               inherited: np.ndarray | None = None) -> Rerank | None:
        """The change to the next token's distribution [n_ext] if it follows a dot; else None.
        `ids`, `roles`, `ext`: the context; `tail`: identities produced after it (beam search);
        `inherited`: after `self.`, the identities of what the class's bases define."""
        seq = [*ids[max(len(ids) - 2, 0):].tolist(), *tail][-2:]
        if len(seq) < 2 or seq[-1] != self.dot:
            return None
        receiver = seq[0] if seq[0] < self.V else self.unk
        if receiver in self.selves:
            members = class_members(self, ids, roles, ext)
            if members is None:
                return None
            members = members[members < n_ext]
            scale = np.full(n_ext, 1 / CLASS_BOOST, np.float32)
            scale[members] = 1.0
            floor = np.zeros(n_ext, np.float32)
            floor[members] = CLASS_FLOOR / CLASS_BOOST
            if inherited is not None and not tail:
                # What the bases define is raised too, less than the class's own names: raised as
                # much, it pushed down the names the class defines further on (validation sample).
                extra = np.setdiff1d(inherited[(inherited >= 0) & (inherited < n_ext)], members)
                scale[extra] = INHERITED_SCALE
                members = np.union1d(members, extra)
            return Rerank(scale, floor, "class") if len(members) else None
        got = self.table.of(receiver) if self.table is not None and receiver != self.unk else None
        if got is None:
            return None
        attrs, share = got
        q = np.zeros(n_ext, np.float64)
        q[self.V :] = share[attrs == self.unk].sum()  # the document's own names outside the vocabulary
        known = attrs != self.unk
        q[attrs[known]] = share[known]
        # A receiver can mean something else here (`types.` of lsprotocol is not the standard
        # library's): the table counts as far as it knew what this document put after it so far.
        ids, ext = np.asarray(ids), np.asarray(ext)
        before = np.flatnonzero((ids[:-3] == receiver) & (ids[1:-2] == self.dot)) + 2
        used = np.where(ext[before] >= 0, ext[before], ids[before])
        trust = float((q[used[used < n_ext]] > 0).mean()) if len(used) else 1.0
        return Rerank(((q + BETA) ** (ALPHA * trust)).astype(np.float32), None, "corpus")


def class_members(m: Members, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray) -> np.ndarray | None:
    """Identities the class around the end of a context has defined in it: its methods (`def`
    directly in its body), its class-level names (`x = ...`), and `self.x = ...` anywhere in
    it. None outside a class."""
    found = enclosing_class(m, ids)
    return body_members(m, ids, roles, ext, found[1], len(ids)) if found is not None else None


def enclosing_class(m: Members, ids: np.ndarray) -> tuple[int, int] | None:
    """(index of its `class` keyword, index of the INDENT opening its body) of the innermost
    class around the end of a context; None outside a class."""
    ids = np.asarray(ids)
    depth = np.cumsum((ids == m.indent).astype(np.int32) - (ids == m.dedent))  # after each token
    if not len(depth) or depth[-1] <= 0:
        return None
    # The blocks around the end open at the INDENTs whose level nothing after them went below.
    lowest_after = np.minimum.accumulate(depth[::-1])[::-1]
    openers = np.flatnonzero((ids == m.indent) & (depth == lowest_after))
    headers = np.flatnonzero((ids == m.class_id) | (ids == m.def_id))
    newlines = np.flatnonzero(ids == m.newline)
    for b in openers[::-1]:  # innermost first: `self` in a method means its class
        h = np.searchsorted(headers, b) - 1
        if h < 0:
            continue
        k = headers[h]
        # The keyword must head the line this block belongs to: no line ends between them but the last.
        if np.searchsorted(newlines, k) < np.searchsorted(newlines, b - 1) or ids[k] != m.class_id:
            continue
        return int(k), int(b)
    return None


def class_body(m: Members, ids: np.ndarray, k: int) -> tuple[int, int] | None:
    """(INDENT, end) of the body of the class whose `class` keyword is at `k`: from the first
    INDENT after its header line to where the indentation falls back (or the context ends)."""
    ids = np.asarray(ids)
    newline = np.flatnonzero(ids[k:] == m.newline)
    b = k + int(newline[0]) + 1 if len(newline) else len(ids)
    if b >= len(ids) or ids[b] != m.indent:
        return None  # `class A: pass` on one line
    step = (ids[b:] == m.indent).astype(np.int32) - (ids[b:] == m.dedent)
    closed = np.flatnonzero(np.cumsum(step) <= 0)
    return b, b + int(closed[0]) if len(closed) else len(ids)


def body_members(m: Members, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray, body: int, end: int) -> np.ndarray:
    """Identities a class body (from its INDENT at `body` to `end`) defines: see class_members."""
    ids = np.asarray(ids)
    depth = np.cumsum((ids[body:end] == m.indent).astype(np.int32) - (ids[body:end] == m.dedent))
    r, x, own = np.asarray(roles[body:end]), np.asarray(ext[body:end]), ids[body:end]
    direct = (depth == 1) & ((r == ROLE_ID["def_name"]) | (r == ROLE_ID["target"]))
    at = np.flatnonzero(r == ROLE_ID["attribute_target"])
    at = at[at >= 2]
    on_self = at[np.isin(own[at - 2], m.selves) & (own[at - 1] == m.dot)]
    found = np.concatenate([x[direct], x[on_self]])
    return np.unique(found[found >= 0])
