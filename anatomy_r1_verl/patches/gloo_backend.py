"""verl asks torch.distributed for ``cpu:gloo,cpu:gloo`` on a machine without an accelerator; torch rejects it.

verl 0.9.1 builds the backend string ``cpu:gloo,<device>:<backend>`` (``verl/utils/distributed.py``), which on
the ``cpu`` platform is ``cpu:gloo,cpu:gloo``: torch 2.13 refuses the duplicate device. The replacement of
``torch.distributed.init_process_group`` maps exactly that string to ``gloo`` and passes everything else through.

Upstream: verl 0.9.1, torch 2.13.0.
"""

from __future__ import annotations

from anatomy_r1_verl.patches import record, replace

NAME = "gloo_backend"
TARGET = "torch.distributed:init_process_group"


def map_backend(backend):
    """``cpu:gloo,cpu:gloo`` means ``gloo``; any other value is returned unchanged."""
    if isinstance(backend, str) and backend.replace(" ", "") == "cpu:gloo,cpu:gloo":
        return "gloo"
    return backend


def apply() -> None:
    def make(original):
        def init_process_group(*args, backend=None, **kwargs):
            return original(*args, backend=map_backend(backend), **kwargs)

        return init_process_group

    replace(NAME, TARGET, make)
    record(NAME, "backend 'cpu:gloo,cpu:gloo' -> 'gloo'", "verl 0.9.1 / torch 2.13", [TARGET])
