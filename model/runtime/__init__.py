"""Answering at a cursor: context, state cache, prediction, adjustment, beam search, the popup list."""
