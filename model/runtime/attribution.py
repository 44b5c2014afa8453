"""Why the popup offers a name: which of heed's parts gave it its probability (`heed explain`,
the popup's item details)."""

from __future__ import annotations

from dataclasses import dataclass, field

from heed.model.runtime import memory
from heed.model.runtime.predictor import Prediction


@dataclass
class Explanation:
    text: str
    prob: float
    source: str  # what gave it the most probability: "vocabulary", "pointer", "file" (n-grams), "memory" or "defined"
    gate: float  # share the model gave the vocabulary over the pointer, at this position
    pointer_prob: float
    vocab_prob: float
    spans: list[tuple[int, str, float]]  # (line, code, attention weight) most attended, top first
    copied_from: int | None  # line the pointer copied the name from
    weights: list[tuple[int, int, str, float]] = field(default_factory=list)  # (line, col, text, weight) per window token
    file_prob: float = 0.0  # from the document's n-grams
    repeats_line: int | None = None  # line where it last followed the same tokens
    recalled_from: str = ""  # "memory": the project's file where the nearest context that it followed is
    lifted_by: str = ""  # after a dot, what raised it: "class" (a member of the class around or its
    # bases), "corpus" (usual after the receiver in training), "module" (a name of the module the
    # receiver is) or "type" (a name of the class the receiver is, or is an instance of); elsewhere
    # "import" (what the import statement can import) or "call" (a parameter of the function called)


# What raised a name (`Explanation.lifted_by`), and where one the model has not seen comes from
# (its source "defined"), as `heed explain` and the popup's details say it.
LIFTED_BY = {"class": "a member of this class", "corpus": "usual after this name in the training code",
             "module": "a name the module before the dot defines", "type": "a name of the class the receiver is",
             "import": "a name the import statement can import", "call": "a parameter of the function called"}
DEFINED_BY = {"module": "the module before the dot", "type": "the class the receiver is",
              "import": "the module it is imported from", "call": "the function called (a parameter)"}


def shares(pred: Prediction, ext_id: int) -> tuple[float, float, float, float]:
    """The probability of one candidate from the pointer, the vocabulary, the document's n-grams
    and the project memory (each scaled as the re-ranking after a dot scaled their sum)."""
    model = 1 - pred.ngrams.weight
    recalled = 0.0
    if pred.recalled is not None:
        recalled = model * memory.WEIGHT * float(pred.recalled[ext_id]) if 0 <= ext_id < len(pred.recalled) else 0.0
        model *= 1 - memory.WEIGHT
    pointer = model * (1 - pred.gate) * float(pred.attn[pred.key_ext == ext_id].sum()) if ext_id >= 0 else 0.0
    vocab = model * pred.gate * float(pred.vocab_probs[ext_id]) if 0 <= ext_id < len(pred.vocab_probs) else 0.0
    scale = float(pred.reranked[ext_id]) if pred.reranked is not None and 0 <= ext_id < len(pred.reranked) else 1.0
    return pointer * scale, vocab * scale, pred.ngrams.prob_of(ext_id) * scale, recalled * scale


def source_of(pointer: float, vocab: float, file: float, recalled: float = 0.0) -> str:
    """The largest of `shares`, by name."""
    if recalled > max(pointer, vocab, file):
        return "memory"
    return "file" if file > max(pointer, vocab) else "pointer" if pointer > vocab else "vocabulary"
