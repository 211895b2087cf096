"""The method's own memory, saved next to verl's ``data.pt`` in each checkpoint's step folder.

verl saves the dataloader (and with it the ASCL sampler's position and feedback) in ``data.pt``; what verl
does not know about, the hooks' memory (online GDQA: which rows' last group had zero reward spread), goes to
``anatomy_r1_state.json``, written atomically before verl marks the step as its latest checkpoint.
"""

from __future__ import annotations

import json
import os

METHOD_STATE_FILE = "anatomy_r1_state.json"
VERSION = 1


def write_method_state(folder: str, gdqa_invalid: dict) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, METHOD_STATE_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"version": VERSION, "gdqa_invalid": [[k, bool(v)] for k, v in gdqa_invalid.items()]}, f)
    os.replace(tmp, path)
    return path


def read_method_state(folder: str) -> dict | None:
    """The memory :func:`write_method_state` saved in ``folder``; None for a checkpoint without it."""
    path = os.path.join(folder, METHOD_STATE_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        state = json.load(f)
    if state.get("version") != VERSION:
        raise ValueError(
            f"{path}: unknown anatomy-r1 state version {state.get('version')!r}; "
            "it was written by a newer anatomy-r1, upgrade to resume from it"
        )
    return {"gdqa_invalid": {k: v for k, v in state["gdqa_invalid"]}}
