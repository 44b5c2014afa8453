"""What can follow a dot: the distribution after it re-ranked by the receiver's usual
attributes, the members of `self`'s class, and the names the code says the receiver has.

After `os.` the vocabulary softmax spreads its mass over every attribute name it knows; the
training corpus says which ones actually follow `os` (`model/nn/member_table.py`). The
distribution after a dot is re-ranked as a product of experts:

    p'(a) ~ p(a) * (q(a | receiver) + BETA) ** ALPHA

where a name of the document outside the vocabulary takes q(<unk> | receiver), and ALPHA is
scaled by the share of the attributes this document already put after the receiver that the
table knows (a `types.` of another library is not the standard library's). After `self.`
or `cls.` the corpus knows nothing about this class, but the document does: the methods and
attributes the enclosing class has defined so far (`lookup/classes.py`) are boosted, and what
its bases define a little less; where `self.` starts a statement, so are the parameters of the
function around it that the class has not stored yet (`self.size = size`; on the validation
projects' 1,150 attribute places, top-1 50.7% -> 51.3%, after `self.` 38.7% -> 40.4%). After a
module (`cst.`, `os.path.`) or an instance of a class
whose name shows (`node: cst.Name`), `model/lookup/receivers.py` looks up the names it has and
`module_rerank` raises them, including the ones neither the vocabulary nor the document has
(they take identities in the document's table).

The constants were tuned on the validation split of the training corpus, never on the
evaluation set (docs/MODEL_CARD.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from heed.model.lookup.classes import ClassTokens, class_members, unstored_parameters
from heed.model.nn.member_table import MemberTable
from heed.model.text.vocab import Vocab

ALPHA = 0.2  # how strongly the corpus table re-ranks
BETA = 1e-5  # what an attribute never seen after the receiver keeps
CLASS_BOOST = 5.0  # a member of the enclosing class counts this many times more ...
CLASS_FLOOR = 0.01  # ... plus this much probability, so that one the network overlooked shows up
INHERITED_SCALE = 0.4  # what the class's bases define counts this much of a member of its own
# A name the module the receiver is defines (or the class it is an instance of: other values
# for those changed nothing on the validation sample) counts this many times more ...
MODULE_BOOST = 10.0
MODULE_FLOOR = 1.0  # ... plus this much (before normalising), shared by all its names


@dataclass
class Rerank:
    """How the distribution after one dot changes: p' ~ p * scale + floor."""

    scale: np.ndarray  # [n_ext]
    floor: np.ndarray | None  # [n_ext], or None
    why: str  # "corpus": the receiver's usual attributes; "class": the enclosing class's members
    # (and its bases'); "module": the names of the module the receiver is; "type": of its class;
    # "import": what an import statement can import; "call": the parameters of the function called
    unseen: int = 0  # names the receiver has with no identity here, each given `unseen_floor` (`heed eval`)
    unseen_floor: float = 0.0

    def apply(self, probs: np.ndarray) -> np.ndarray:
        out = probs * self.scale
        if self.floor is not None:
            out = out + self.floor
        total = float(out.sum()) + self.unseen * self.unseen_floor
        return (out / total).astype(probs.dtype) if total > 0 else probs

    def unseen_prob(self, probs: np.ndarray) -> float:
        """What each of the `unseen` names gets from `apply(probs)`."""
        total = float((probs * self.scale).sum()) + self.unseen * self.unseen_floor
        if self.floor is not None:
            total += float(self.floor.sum())
        return self.unseen_floor / total if total > 0 else 0.0

    def then_module(self, names: np.ndarray, unseen: int = 0, why: str = "module", open: bool = False) -> Rerank:
        """This re-ranking followed by `module_rerank`'s."""
        other = module_rerank(names, len(self.scale), unseen, why, open)
        floor = other.floor if self.floor is None else self.floor * other.scale + other.floor
        return Rerank(self.scale * other.scale, floor, why, unseen, other.unseen_floor)


def module_rerank(names: np.ndarray, n_ext: int, unseen: int = 0, why: str = "module", open: bool = False,
                  excluded: np.ndarray | None = None, lowered: np.ndarray | None = None) -> Rerank:
    """After a receiver that is an imported module (`why` "module") or an instance of a known
    class ("type"), or in an import statement (`lookup/import_spot.py`): `names` (the identities
    of what it has) raised over every other, and given a share of the floor each, as are the
    `unseen` names it has with no identity here. `open`: it may have names no statement binds (a
    module's `__getattr__`, as numpy's and torch's; a class with a base heed cannot read, as
    `ctypes.Structure`), so the others are not pushed down; its names
    get their floor. `excluded`: identities that cannot come (what the statement already imports);
    `lowered`: ones pushed down as a name it does not have is."""
    names = names[(names >= 0) & (names < n_ext)]
    scale = np.full(n_ext, 1.0 if open else 1 / MODULE_BOOST, np.float32)
    scale[names] = 1.0
    if lowered is not None:
        scale[lowered[(lowered >= 0) & (lowered < n_ext)]] = 1 / MODULE_BOOST
    if excluded is not None:
        scale[excluded[(excluded >= 0) & (excluded < n_ext)]] = 0.0
    each = MODULE_FLOOR / MODULE_BOOST / max(len(names) + unseen, 1)
    floor = np.zeros(n_ext, np.float32)
    floor[names] = each
    return Rerank(scale, floor, why, unseen, each)


class Reranker:
    """The re-ranking after a dot, for one vocabulary (and the corpus table, if the model has one)."""

    def __init__(self, vocab: Vocab, table: MemberTable | None):
        self.table = table
        self.V = len(vocab)
        self.tokens = ClassTokens.of(vocab)
        self.dot, self.unk = self.tokens.dot, vocab.unk

    def rerank(self, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray, n_ext: int, tail: Sequence[int] = (),
               inherited: np.ndarray | None = None, below: np.ndarray | None = None) -> Rerank | None:
        """The change to the next token's distribution [n_ext] if it follows a dot; else None.
        `ids`, `roles`, `ext`: the context; `tail`: identities produced after it (beam search);
        `inherited`: after `self.`, the identities of what the class's bases define; `below`: of
        what the class defines below the cursor (members as much as those above it)."""
        seq = [*ids[max(len(ids) - 2, 0):].tolist(), *tail][-2:]
        if len(seq) < 2 or seq[-1] != self.dot:
            return None
        receiver = seq[0] if seq[0] < self.V else self.unk
        if receiver in self.tokens.selves:
            members = class_members(self.tokens, ids, roles, ext)
            if members is None:
                return None
            if not tail:  # `self.|` starting a statement: the parameters the class has not stored yet count as members
                members = np.union1d(members, unstored_parameters(self.tokens, ids, roles, ext, members))
                if below is not None:
                    members = np.union1d(members, below)
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
