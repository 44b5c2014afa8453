"""The network's shape (config.json's "model" object) and the weights it implies: read by the
loader, the training network (`network.py`) and the inference one (`numpy_net.py`) alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from heed.model.text.roles import ROLES


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    n_roles: int = len(ROLES)
    embed: int = 128
    role_embed: int = 16
    hidden: int = 256
    layers: int = 1
    window: int = 64  # K: hidden states the attention (and the pointer) can reach back to
    far: int = 0  # F: names beyond the window the pointer can still copy (0: none)
    dropout: float = 0.1
    pointer: bool = True  # False: the vocabulary alone (for the ablation)

    LIMITS = {
        "vocab_size": (16, 1_000_000),
        "n_roles": (len(ROLES), len(ROLES)),
        "embed": (4, 4096),
        "role_embed": (1, 1024),
        "hidden": (4, 8192),
        "layers": (1, 8),
        "window": (1, 4096),
        "far": (0, 65536),
    }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from config.json, refusing unknown keys and values out of range."""
        if not isinstance(data, dict):
            raise ValueError("config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        config = cls(**data)
        for name, (low, high) in cls.LIMITS.items():
            value = getattr(config, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"config {name}={value!r} is outside [{low}, {high}]")
        if not (isinstance(config.dropout, (int, float)) and 0.0 <= config.dropout < 1.0):
            raise ValueError(f"config dropout={config.dropout!r} is outside [0, 1)")
        return config

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def weight_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every weight, without building the model (a test checks them
    against a built one). Loading checks a file against these before allocating anything."""
    c = config
    shapes: dict[str, tuple[int, ...]] = {
        "decoder_bias": (c.vocab_size,),
        "embed.weight": (c.vocab_size, c.embed),
        "role_embed.weight": (c.n_roles, c.role_embed),
        "query.weight": (c.hidden, c.hidden),
        "proj.weight": (c.embed, 2 * c.hidden),
        "proj.bias": (c.embed,),
        "gate.weight": (1, 2 * c.hidden),
        "gate.bias": (1,),
    }
    if c.far:
        shapes["far_bias"] = ()
    for layer in range(c.layers):
        inputs = c.embed + c.role_embed if layer == 0 else c.hidden
        shapes[f"lstm.weight_ih_l{layer}"] = (4 * c.hidden, inputs)
        shapes[f"lstm.weight_hh_l{layer}"] = (4 * c.hidden, c.hidden)
        shapes[f"lstm.bias_ih_l{layer}"] = (4 * c.hidden,)
        shapes[f"lstm.bias_hh_l{layer}"] = (4 * c.hidden,)
    return shapes
