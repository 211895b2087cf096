"""A workaround for a verl 0.9.1 bug with Qwen2.5-VL's 3-D (mRoPE) ``position_ids`` (CPU and GPU alike).

verl stores each sample's ``(4, L_i)`` position ids as a jagged nested tensor
(``workers/utils/padding.py``, ``protocol.py``). When every ``L_i`` in a batch is equal, torch makes the
*4* the ragged dimension, and ``tensordict_utils.maybe_fix_3d_position_ids`` then sets
``_ragged_idx = 2`` on it, leaving an inconsistent tensor that ``chunk_tensordict`` /
``index_select_tensor_dict`` / ``unbind`` reject. Fixed-size images and a fixed prompt template make
equal lengths common. :func:`apply` wraps those verl functions so the tensor is rebuilt ragged along
the sequence, whatever layout it came in; the wrappers are no-ops for any other input.

Targets (each ``module:attribute`` as verl 0.9.1 binds it; the modules that import a name bind their own copy):
see :data:`TARGETS`. Upstream: verl 0.9.1, torch 2.13.0 (nested jagged tensors).
"""

from __future__ import annotations

import torch

from anatomy_r1_verl.patches import record, replace

NAME = "mrope_position_ids"


def _seq_ragged(parts):
    values = torch.cat(list(parts), dim=1)
    lengths = torch.tensor([p.shape[1] for p in parts], dtype=torch.long)
    offsets = torch.nn.functional.pad(lengths.cumsum(0), (1, 0))
    return torch.nested.nested_tensor_from_jagged(values, offsets=offsets, jagged_dim=2)


def normalize_position_ids(pos: torch.Tensor) -> torch.Tensor:
    """Return 3-D nested mRoPE position ids as a consistent ``(B, C, j)`` tensor, ragged on the sequence."""
    values, offsets = pos.values(), pos.offsets().tolist()
    total, ragged = offsets[-1], getattr(pos, "_ragged_idx", 1) - 1
    if ragged == 1 and values.dim() == 2 and values.shape[1] == total:
        return pos
    dims = [d for d in range(values.dim()) if values.shape[d] == total]
    if not dims:
        raise ValueError(f"position_ids: offsets end at {total} but values have shape {tuple(values.shape)}")
    d = ragged if ragged in dims else dims[0]
    return _seq_ragged(values.narrow(d, offsets[i], offsets[i + 1] - offsets[i]) for i in range(len(offsets) - 1))


def fix_position_ids(td):
    try:
        pos = td.get("position_ids", None)
    except Exception:  # not a mapping with position ids
        return td
    if isinstance(pos, torch.Tensor) and pos.is_nested and pos.dim() == 3:
        new = normalize_position_ids(pos)
        if new is not pos:
            td["position_ids"] = new
    return td


def _wrap_result(fn):
    def wrapped(*args, **kwargs):
        return fix_position_ids(fn(*args, **kwargs))

    return wrapped


def _wrap_first_arg(fn):
    def wrapped(td, *args, **kwargs):
        return fn(fix_position_ids(td), *args, **kwargs)

    return wrapped


def _replace_3d_fix(_original):
    def maybe_fix_3d_position_ids(data):  # replaces verl's blind `_ragged_idx = 2`
        fix_position_ids(data)

    return maybe_fix_3d_position_ids


# target -> how the replacement is made from verl's function
TARGETS = {
    "verl.workers.utils.padding:left_right_2_no_padding": _wrap_result,
    "verl.trainer.ppo.ray_trainer:left_right_2_no_padding": _wrap_result,
    "verl.protocol:deserialize_tensordict": _wrap_result,
    "verl.utils.tensordict_utils:chunk_tensordict": _wrap_first_arg,
    "verl.utils.tensordict_utils:index_select_tensor_dict": _wrap_first_arg,
    "verl.utils.tensordict_utils:maybe_fix_3d_position_ids": _replace_3d_fix,
    "verl.workers.engine_workers:maybe_fix_3d_position_ids": _replace_3d_fix,
    "verl.workers.engine.base:maybe_fix_3d_position_ids": _replace_3d_fix,
}


def apply() -> None:
    for target, make in TARGETS.items():
        replace(NAME, target, make)
    record(NAME, "3-D nested position_ids kept ragged along the sequence", "verl 0.9.1", list(TARGETS))
