"""Offline only (never imported by runtime or the server): corpus, batches, training, evaluation."""
