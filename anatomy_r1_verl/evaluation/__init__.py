"""Offline evaluation of a model on the project's parquet rows (:mod:`.accuracy`)."""
