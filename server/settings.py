"""The server's settings: nested, keyword-only dataclasses with documented defaults.

They come from `initializationOptions` and from `workspace/didChangeConfiguration`
(`{"settings": {"heed": {...}}}`), in the client's camelCase. Editors mirror the same keys
(`heed.inline.beamWidth` in VS Code). An invalid value is reported once and its default used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

LOG_LEVELS = ("error", "warning", "info", "debug")


@dataclass(frozen=True, kw_only=True)
class InlineSettings:
    enabled: bool = True  # ghost text on or off
    beam_width: int = 4  # hypotheses kept by beam search
    max_tokens: int = 16  # longest ghost text, in tokens
    alternatives: int = 3  # ghost-text alternatives sent
    # Ghost text is shown where its calibrated chance of being exactly the rest of the line is at
    # least this; where no suggestion's is, its longest prefix that is sure enough (its own bar,
    # never below this one), else nothing: 0 shows everything, higher shows less and is right
    # more often; -1: the model's default, picked on validation projects (model/runtime/confidence.py).
    min_confidence: float = -1.0


@dataclass(frozen=True, kw_only=True)
class CompletionSettings:
    max_items: int = 20  # popup items sent


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    enabled: bool = True  # index the workspace's Python files (server/workspace.py)
    exclude: tuple[str, ...] = ()  # patterns in .gitignore syntax, beside the .gitignore files


@dataclass(frozen=True, kw_only=True)
class LearnSettings:
    # Learn the project (server/learning.py) by itself when the server starts in a workspace that
    # has no adapted model yet, or whose files changed enough since it was made.
    automatic: bool = False
    minutes: float = 3.0  # the time budget of each run (`heed adapt --max-minutes`)


@dataclass(frozen=True, kw_only=True)
class Settings:
    model_path: str = ""  # a model folder; empty: the model bundled with heed
    inline: InlineSettings = field(default_factory=InlineSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    learn: LearnSettings = field(default_factory=LearnSettings)
    torch_threads: int = 0  # CPU threads for the model's products (`runtime/threads.py`); 0: two where there are two cores (the name is older)
    log_level: str = "info"  # error, warning, info, debug


RANGES = {
    "beam_width": (1, 16),
    "max_tokens": (1, 64),
    "alternatives": (1, 5),
    "max_items": (1, 200),
    "torch_threads": (0, 64),
    "min_confidence": (-1, 1),
    "minutes": (0.05, 60),
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _check(name: str, default: Any, value: Any) -> str | None:
    """Why `value` is not valid for the setting `name`, or None."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "expected true or false"
    if isinstance(default, float):
        low, high = RANGES[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
            return f"expected a number from {low} to {high}"
        return None
    if isinstance(default, int):
        low, high = RANGES.get(name, (0, 2**31))
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return f"expected a whole number from {low} to {high}"
        return None
    if isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "expected a list of strings"
    if name == "log_level":
        return None if value in LOG_LEVELS else f"expected one of {', '.join(LOG_LEVELS)}"
    return None if isinstance(value, str) else "expected a string"


def _parse(cls: type, raw: Any, prefix: str, errors: list[str]) -> Any:
    defaults = cls()
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        where = f"heed.{prefix.rstrip('.')}" if prefix else "settings"
        errors.append(f"{where}: expected an object, got {type(raw).__name__}")
        return defaults
    values = {}
    for f in fields(cls):
        key = _camel(f.name)
        if key not in raw:
            continue
        default = getattr(defaults, f.name)
        path = f"{prefix}{key}"
        if hasattr(default, "__dataclass_fields__"):
            values[f.name] = _parse(type(default), raw[key], path + ".", errors)
            continue
        problem = _check(f.name, default, raw[key])
        if problem:
            shown = list(default) if isinstance(default, tuple) else default  # as the client writes it
            errors.append(f"heed.{path} = {raw[key]!r}: {problem}; using {shown!r}")
        else:
            values[f.name] = float(raw[key]) if isinstance(default, float) else tuple(raw[key]) if isinstance(default, tuple) else raw[key]
    return replace(defaults, **values)


def parse_settings(raw: Any) -> tuple[Settings, list[str]]:
    """Settings from the client's JSON, and one message per invalid value."""
    errors: list[str] = []
    if isinstance(raw, dict) and isinstance(raw.get("heed"), dict):
        raw = raw["heed"]  # the didChangeConfiguration shape
    return _parse(Settings, raw, "", errors), errors
