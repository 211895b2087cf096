"""The method hooks' memory, saved next to verl's ``data.pt`` in each checkpoint's step folder.

verl saves the dataloader (and with it the ASCL sampler's position and feedback) in ``data.pt``; what verl does
not know about, each hook's :meth:`~anatomy_r1_verl.hooks.MethodHook.state_dict` (online GDQA: which rows' last
group had zero reward spread), goes to ``anatomy_r1_state.json`` under the hook's name, written atomically
before verl marks the step as its latest checkpoint.
"""

from __future__ import annotations

import json
import os

METHOD_STATE_FILE = "anatomy_r1_state.json"
VERSION = 2


def write_method_state(folder: str, hooks: dict[str, dict]) -> str:
    """Save ``{hook name: state_dict}`` in ``folder``; returns the file's path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, METHOD_STATE_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"version": VERSION, "hooks": hooks}, f)
    os.replace(tmp, path)
    return path


def read_method_state(folder: str) -> dict[str, dict] | None:
    """``{hook name: state_dict}`` as :func:`write_method_state` saved it in ``folder``; None for a checkpoint
    without the file. Version 1 (one GDQA memory, ``gdqa_invalid``) reads as the ``gdqa`` hook's state."""
    path = os.path.join(folder, METHOD_STATE_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        state = json.load(f)
    if state.get("version") == 1:
        return {"gdqa": {"invalid": state["gdqa_invalid"]}}
    if state.get("version") != VERSION:
        raise ValueError(
            f"{path}: unknown anatomy-r1 state version {state.get('version')!r}; "
            "it was written by a newer anatomy-r1, upgrade to resume from it"
        )
    return state["hooks"]
