"""The layout's boundaries (docs/ARCHITECTURE.md): which package may import which, and what the
light paths (the server before a model loads, the popup without a model, the model's loader)
keep out of memory."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {  # folder -> import name
    ROOT / "model": "heed.model",
    ROOT / "server": "heed.server",
    ROOT / "heed": "heed",
}
# What each part may import from heed: its own package and the ones below it. Runtime code never
# imports training code; the model never imports the server.
ALLOWED = {
    "heed.model.text": ("heed.model.text",),
    "heed.model.lookup": ("heed.model.text", "heed.model.lookup"),
    "heed.model.nn": ("heed.model.text", "heed.model.nn"),
    "heed.model.workspace": ("heed.model.text", "heed.model.lookup", "heed.model.workspace"),
    "heed.model.runtime": ("heed.model.text", "heed.model.lookup", "heed.model.nn", "heed.model.workspace",
                           "heed.model.runtime"),
    "heed.model.training": ("heed.model",),
    "heed.server": ("heed.model.text", "heed.model.lookup", "heed.model.nn", "heed.model.workspace", "heed.model.runtime",
                    "heed.server", "heed.__version__"),
}


def module_name(path: Path) -> str:
    for folder, name in PACKAGES.items():
        if path.is_relative_to(folder):
            parts = path.relative_to(folder).with_suffix("").parts
            return ".".join([name, *parts])
    raise AssertionError(path)


def heed_imports(path: Path) -> list[str]:
    """Every heed module a file imports, at its top or inside a function."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "heed" else [f"heed.{a.name}" for a in node.names]
            out += [n for n in names if n.startswith("heed")]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("heed")]
    return out


def sources() -> list[Path]:
    return sorted(p for folder in PACKAGES for p in folder.rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_what_its_part_may(path: Path) -> None:
    name = module_name(path)
    rule = next((prefix for prefix in ALLOWED if name.startswith(prefix + ".") or name == prefix), None)
    if rule is None:  # heed/cli.py and the package roots: the command line may call anything
        return
    bad = [i for i in heed_imports(path) if i != "heed" and not any(i == a or i.startswith(a + ".") for a in ALLOWED[rule])]
    assert not bad, f"{name} imports {bad}"


def test_every_module_is_small() -> None:
    """One job per module: none grows past what a reader takes in at one sitting."""
    long = {str(p.relative_to(ROOT)): n for p in sources() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420}
    assert not long


def imported_by(code: str) -> set[str]:
    """The top-level packages in sys.modules after running `code` in a fresh interpreter."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_the_server_and_the_popup_without_a_model_never_import_torch() -> None:
    loaded = imported_by(
        "from heed.server.app import create_server\n"
        "create_server()\n"
        "from heed.model.runtime.fallback import fallback_popup\n"
        "from heed.model.text.stream import TokenStream\n"
        "text = 'import os\\nclass A:\\n    def f(self):\\n        return os.pat'\n"
        "popup = fallback_popup(TokenStream(text), len(text), 10)\n"
        "assert [c.text for c in popup.candidates][:1] == ['path'], popup\n"
    )
    assert "torch" not in loaded and "heed" in loaded


def test_loading_a_model_does_not_import_libcst() -> None:
    loaded = imported_by("from heed.model.nn.store import load_members, load_model\nm, v, _ = load_model()\nload_members(None, v)")
    assert "torch" in loaded and "libcst" not in loaded
