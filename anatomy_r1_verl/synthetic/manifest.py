"""Whether a folder of synthetic questions is what a run asks for, read from the ``manifest.json`` that
:func:`anatomy_r1_verl.synthetic.generator.generate` writes beside the parquet files."""

from __future__ import annotations

import json
import os

MANIFEST = "manifest.json"
# what the questions are made from; a folder made otherwise is made again
KEYS = ("seed", "train", "val", "test", "image_position", "look", "contrast", "options")
# what a manifest written before a setting existed was made with
OLDER = {"image_position": "first", "look": "classic", "contrast": 1.0, "options": "uniform"}


class ManifestError(ValueError):
    """Parquet files whose making cannot be told (no manifest): the message says which setting to change."""


def stale_reason(data_dir: str, want, splits=("train", "val"), setting: str = "the output folder") -> str | None:
    """Why the questions in ``data_dir`` must be made (again) for ``want`` (a ``SyntheticConfig``), None when they
    are what it asks for. ``splits``: the parquet files the caller reads; ``setting``: the option or config key a
    user changes to use another folder (named in the error for a folder without a manifest)."""
    if not all(os.path.isfile(os.path.join(data_dir, f"{s}.parquet")) for s in splits):
        return "missing"
    path = os.path.join(data_dir, MANIFEST)
    if not os.path.isfile(path):
        raise ManifestError(
            f"{data_dir} holds parquet files but no {MANIFEST}, so it cannot be told how they were made: delete "
            f"the folder (it is made again) or set {setting} to another folder"
        )
    with open(path) as fh:
        have = {**OLDER, **json.load(fh).get("config", {})}
    diff = [f"{k} {have.get(k)} -> {getattr(want, k)}" for k in KEYS if have.get(k) != getattr(want, k)]
    return f"made with other settings ({', '.join(diff)})" if diff else None
