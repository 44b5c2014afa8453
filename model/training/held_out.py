"""What the shipped model is never trained on, by the names it imports as: the code it is measured
on. `heed corpus build --exclude-eval-packages` (every corpus of the shipped model) leaves it out
wherever it lies: in a machine's site-packages, or vendored inside another package. And what no
constant is chosen on: `heed calibrate` refuses the evaluation and final projects."""

from __future__ import annotations

from pathlib import Path

# Packages `heed eval` (without --projects) holds out whole.
EVAL_PACKAGES = ("pygls", "lsprotocol", "libcst")
# The held-out projects of bench/projects.txt, set by set (a test keeps them in step). A GPU
# machine's site-packages once held one of them (markdown, then a validation project:
# docs/MODEL_CARD.md, "Held-out projects").
EVALUATION_PROJECTS = ("httpie", "textual", "bottle", "falcon", "peewee", "playhouse", "pwiz", "tinydb", "urwid", "pelican")
VALIDATION_PROJECTS = ("tenacity", "structlog", "loguru", "mistune", "boltons", "tablib", "transitions", "invoke")
FINAL_PROJECTS = ("asciimatics", "cement", "cookiecutter", "mkdocs", "pyinfra", "schedule")
HELD_OUT_PROJECTS = (*EVALUATION_PROJECTS, *VALIDATION_PROJECTS, *FINAL_PROJECTS)
NEVER_TRAINED_ON = (*EVAL_PACKAGES, *HELD_OUT_PROJECTS)


def measured_on(root: Path) -> str | None:
    """"evaluation" or "final" where `root` is one of those sets' projects (the folder
    bench/fetch_projects.sh unpacks it to, or the package itself), else None."""
    names = {root.name, *(p.name.removesuffix(".py") for p in root.iterdir())} if root.is_dir() else {root.name}
    for kind, projects in (("evaluation", EVALUATION_PROJECTS), ("final", FINAL_PROJECTS)):
        if names & set(projects):
            return kind
    return None
