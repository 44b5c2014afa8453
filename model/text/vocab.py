"""What the model reads and predicts: token keys and the vocabulary over them.

A token's *key* is its text, except where the text says little to a model: layout tokens get
names (`<newline>`, `<indent>`), and long literals become a placeholder by kind (`<str>`,
`<num>`). Short literals keep their text and stay in the vocabulary if they are frequent, so
`0`, `1`, `''` and `'utf-8'` can be predicted. The stream keeps the original text either way.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from heed.model.text import lexer

# Bump whenever the lexer, the roles or the keys change what a file turns into: a model and a
# corpus cache made for another version are refused or rebuilt.
TOKENIZER_VERSION = "heed-tokens-2"
# Earlier versions whose token keys are this one's: only the roles changed (2: the roles the model
# reads no longer look ahead). A vocabulary made for one carries over, and a model made for one
# can be fine-tuned from (`heed train --init-from`), never served.
SAME_KEYS_AS = frozenset({"heed-tokens-1"})

PAD, UNK = "<pad>", "<unk>"
PLACEHOLDERS = ("<str>", "<bytes>", "<fstr>", "<num>", "<error>")
LAYOUT = {lexer.NEWLINE: "<newline>", lexer.INDENT: "<indent>", lexer.DEDENT: "<dedent>", lexer.ENDMARKER: "<eof>"}
SPECIALS = (PAD, UNK, *PLACEHOLDERS, *LAYOUT.values())
# Keys that are never a right answer to show a user: they stand for many texts.
UNANSWERABLE = frozenset({PAD, UNK, *PLACEHOLDERS})

MAX_LITERAL = 24  # characters; a longer string literal is always a placeholder
MAX_NUMBER = 8

KIND_CODES = (
    lexer.NAME,
    lexer.KEYWORD,
    lexer.OP,
    lexer.NUMBER,
    lexer.STRING,
    lexer.NEWLINE,
    lexer.INDENT,
    lexer.DEDENT,
    lexer.ENDMARKER,
    lexer.ERROR,
)
KIND_ID = {kind: i for i, kind in enumerate(KIND_CODES)}


def placeholder(kind: str, text: str) -> str:
    """The placeholder a literal of this kind becomes when its text is not kept."""
    if kind == lexer.NUMBER:
        return "<num>"
    if kind == lexer.STRING:
        prefix = text[: len(text) - len(text.lstrip("rRbBuUfF"))].lower()
        return "<fstr>" if "f" in prefix else "<bytes>" if "b" in prefix else "<str>"
    if kind == lexer.ERROR:
        return "<error>"
    return UNK


def token_key(kind: str, text: str) -> str:
    """The key the model sees for a token."""
    if kind in LAYOUT:
        return LAYOUT[kind]
    if kind == lexer.STRING and (len(text) > MAX_LITERAL or "\n" in text or "\r" in text):
        return placeholder(kind, text)
    if kind == lexer.NUMBER and len(text) > MAX_NUMBER:
        return "<num>"
    if kind == lexer.ERROR:
        return "<error>"
    return text


@dataclass(frozen=True)
class Vocab:
    tokens: tuple[str, ...]
    tokenizer_version: str = TOKENIZER_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    index: dict[str, int] = None  # type: ignore[assignment]  # filled in __post_init__

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def unk(self) -> int:
        return self.index[UNK]

    def encode(self, kind: str, key: str) -> int:
        """Vocabulary id of a token: its key, else its kind's placeholder."""
        i = self.index.get(key)
        if i is not None:
            return i
        return self.index[placeholder(kind, key)]

    def answerable(self) -> list[bool]:
        """Per id: whether predicting it means one definite text."""
        return [t not in UNANSWERABLE for t in self.tokens]

    @classmethod
    def build(cls, counts: Counter[str], size: int, min_count: int) -> Vocab:
        ranked = [k for k, c in counts.most_common() if c >= min_count and k not in SPECIALS]
        return cls(tuple(SPECIALS) + tuple(ranked[: max(size - len(SPECIALS), 0)]))

    def carried_over(self) -> Vocab:
        """This vocabulary for the current tokenizer, where its keys are the same (`SAME_KEYS_AS`)."""
        if self.tokenizer_version == TOKENIZER_VERSION:
            return self
        if self.tokenizer_version not in SAME_KEYS_AS:
            raise ValueError(f"a vocabulary of tokenizer {self.tokenizer_version!r} has other keys than {TOKENIZER_VERSION!r}")
        return Vocab(self.tokens)

    def to_json(self) -> dict[str, object]:
        return {"tokenizer_version": self.tokenizer_version, "tokens": list(self.tokens)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError(f"{path}: not a heed vocabulary (no 'tokens' list)")
        tokens = data["tokens"]
        missing = [s for s in SPECIALS if s not in tokens]
        if missing or not all(isinstance(t, str) for t in tokens):
            raise ValueError(f"{path}: malformed vocabulary (missing {missing or 'string tokens'})")
        return cls(tuple(tokens), str(data.get("tokenizer_version", "")))


def count_keys(files: Iterable[list[str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for keys in files:
        counts.update(keys)
    return counts
