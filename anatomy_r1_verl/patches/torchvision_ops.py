"""Make PyPI's torchvision importable next to the CPU build of torch.

transformers 5.x needs torchvision for Qwen2.5-VL's processor (its video processor and the fast image
processors). The torchvision wheel on PyPI for torch 2.13 is a CUDA build: its C++ extension fails to
load against the CPU torch, and its ``_meta_registrations`` then dies on the missing
``torchvision::nms`` schema. When that happens verl's ``hf_processor()`` only warns and returns None,
and multimodal training silently turns text-only. Defining the two op schemas (no kernels; nothing in
this project calls them) lets the pure-Python parts of torchvision import.

:func:`install` must run before the first ``import torchvision``: the verl plugin entry point (first thing
in every verl process) and each module of this package that builds a processor or loads transformers
models call it. It does nothing when torchvision's own ops load (a matching, e.g. GPU, build).

Upstream: torch 2.13.0 (CPU build) with PyPI's torchvision 0.28.0, transformers 5.x.
"""

from __future__ import annotations

import glob
import importlib.util
import os

import torch

_LIB = None


def _native_ops_load() -> bool:
    """True when torchvision's own C++ ops load (a matching torchvision build)."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.origin:
        return True  # no torchvision at all: nothing to shim (transformers will say it is missing)
    for lib in glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so")):
        try:
            torch.ops.load_library(lib)
            return True
        except (OSError, RuntimeError):
            return False
    return False


def install() -> bool:
    """Register the missing schemas if needed. Returns True when the shim was applied."""
    global _LIB
    if _LIB is not None:
        return True
    if _native_ops_load():
        return False
    _LIB = torch.library.Library("torchvision", "DEF")
    _LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    return True


def apply() -> None:
    from anatomy_r1_verl.patches import record

    if install():
        record(
            "torchvision_ops",
            "torchvision importable on the CPU build of torch",
            "torch 2.13 / torchvision 0.28",
            ["torch.library:torchvision::nms", "torch.library:torchvision::qnms"],
        )
