"""heed: local, private, explainable code completion for Python."""

__version__ = "0.1.0"
