"""A workaround for a verl 0.9.1 bug with Qwen2.5-VL's 3-D (mRoPE) ``position_ids`` (CPU and GPU alike).

verl stores each sample's ``(4, L_i)`` position ids as a jagged nested tensor
(``workers/utils/padding.py``, ``protocol.py``). When every ``L_i`` in a batch is equal, torch makes the
*4* the ragged dimension, and ``tensordict_utils.maybe_fix_3d_position_ids`` then sets
``_ragged_idx = 2`` on it, leaving an inconsistent tensor that ``chunk_tensordict`` /
``index_select_tensor_dict`` / ``unbind`` reject. Fixed-size images and a fixed prompt template make
equal lengths common. :func:`install` wraps those verl functions so the tensor is rebuilt ragged along
the sequence, whatever layout it came in; the wrappers are no-ops for any other input.
"""

from __future__ import annotations

import importlib
import logging

import torch

log = logging.getLogger(__name__)


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

    wrapped._anatomy_r1 = True
    return wrapped


def _wrap_first_arg(fn):
    def wrapped(td, *args, **kwargs):
        return fn(fix_position_ids(td), *args, **kwargs)

    wrapped._anatomy_r1 = True
    return wrapped


def _replace_everywhere(name: str, new, modules) -> None:
    for mod_name in modules:
        try:
            mod = importlib.import_module(mod_name)
        except Exception:  # optional module of verl (e.g. needs a GPU library)
            continue
        if hasattr(mod, name):
            setattr(mod, name, new)


def install() -> None:
    from verl.utils import tensordict_utils as tu
    from verl.workers.utils import padding

    if getattr(tu.chunk_tensordict, "_anatomy_r1", False):
        return
    consumers = ("verl.utils.tensordict_utils", "verl.workers.engine_workers", "verl.workers.engine.base",
                 "verl.trainer.ppo.ray_trainer", "verl.trainer.ppo.v1.trainer_base")
    _replace_everywhere("left_right_2_no_padding", _wrap_result(padding.left_right_2_no_padding),
                        ("verl.workers.utils.padding",) + consumers)
    import verl.protocol as protocol

    protocol.deserialize_tensordict = _wrap_result(protocol.deserialize_tensordict)
    _replace_everywhere("chunk_tensordict", _wrap_first_arg(tu.chunk_tensordict), consumers)
    _replace_everywhere("index_select_tensor_dict", _wrap_first_arg(tu.index_select_tensor_dict), consumers)

    def maybe_fix_3d_position_ids(data):  # replaces the blind `_ragged_idx = 2`
        fix_position_ids(data)

    _replace_everywhere("maybe_fix_3d_position_ids", maybe_fix_3d_position_ids, consumers)
