"""The core of ``bench/fuzz.py``: generation, mutation, checking, workers, shrinking, reports."""
