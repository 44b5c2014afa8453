"""The workspace index: what the project a document belongs to says, read in the background.

`files.py` finds the project's Python files (`.gitignore` and the user's exclusions honoured,
huge, generated and unreadable files skipped); `summary.py` reads one file (its symbols, as the
module look-up reads modules, and its tokens); `index.py` keeps them, a slice of work at a time,
and answers from them (the project's names, its n-grams: `ngrams.py`); `cache.py` keeps the
summaries on disk between sessions. No network: the server indexes before a model has loaded.
"""
