"""What the shipped model is never trained on, by the names it imports as: the code it is measured
on. `heed corpus build --exclude-eval-packages` (every corpus of the shipped model) leaves it out
wherever it lies: in a machine's site-packages, or vendored inside another package."""

# Packages `heed eval` (without --projects) holds out whole.
EVAL_PACKAGES = ("pygls", "lsprotocol", "libcst")
# The held-out projects of bench/projects.txt (evaluation, validation and final sets; a test keeps
# the two in step). A GPU machine's site-packages once held one of them (markdown, then a
# validation project: docs/MODEL_CARD.md, "Held-out projects").
HELD_OUT_PROJECTS = (
    "httpie", "textual", "bottle", "falcon", "peewee", "playhouse", "pwiz", "tinydb", "urwid", "pelican",  # evaluation
    "tenacity", "structlog", "loguru", "mistune", "boltons", "tablib", "transitions", "invoke",  # validation
    "asciimatics", "cement", "cookiecutter", "mkdocs", "pyinfra", "schedule",  # final
)
NEVER_TRAINED_ON = (*EVAL_PACKAGES, *HELD_OUT_PROJECTS)
