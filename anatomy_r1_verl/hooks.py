"""The method-hook protocol: how the ``anatomy_r1`` trainer mode talks to a training method.

The trainer (:mod:`anatomy_r1_verl.trainer.mode`) knows no method by name. It builds the hooks that
``anatomy_r1.hooks`` lists, in order, and calls each at a few events of verl's step:

- :meth:`MethodHook.sampler`: once, after verl built its train dataloader; a hook may return the sampler that
  draws the train rows instead of verl's (at most one hook may);
- :meth:`MethodHook.on_draw`: with each batch just drawn, before rollout; a hook may add keys to the rows'
  ``extra_info`` dicts, which travel with the row to the agent loop;
- :meth:`MethodHook.on_step`: after verl's update, with that step's :class:`StepSamples`; returns metrics;
- :meth:`MethodHook.state_dict` / :meth:`MethodHook.load_state_dict`: the hook's memory (JSON), saved with every
  checkpoint next to verl's ``data.pt`` and given back on resume.

A hook class is registered under a name with :func:`register_hook` (the way verl's ``core_algos`` registers
advantage estimators) and built by its ``from_context(ctx)`` classmethod, which may return None when its method is
switched off. ``anatomy_r1.hooks`` names registered hooks or, for a method outside this package,
``package.module:Class`` / ``/path/file.py:Class``: adding a method is a module and a recipe, not an edit to the
trainer. This module is pure Python (no verl, no Ray), so hooks are tested with hand-made samples.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepSamples:
    """The non-padding samples of one training step, in verl's order."""

    keys: list[str]  # TransferQueue keys ``{uid}_{session_id}_{index}``
    extra_fields: list[dict] = field(default_factory=list)  # per sample; ``reward_extra_info`` = the reward's dict
    extra_info: list[dict] = field(default_factory=list)  # per sample: the dataset row's extra_info

    def reward(self, key: str) -> list[float]:
        """Per sample, ``reward_extra_info[key]`` as float (NaN when missing)."""
        return [float(((f or {}).get("reward_extra_info") or {}).get(key, float("nan"))) for f in self.extra_fields]


@dataclass
class DrawnBatch:
    """A batch just drawn from the train dataloader: its rows' ``extra_info`` dicts (mutable: keys added here
    reach the agent loop) and, on request, one of the batch's columns (e.g. ``s_q``) as a list."""

    step: int
    rows: list[dict]
    column: Callable[[str], list | None] = lambda name: None


@dataclass
class HookContext:
    """What a hook may build itself from, when the trainer has loaded the train set."""

    config: Any  # the typed ``anatomy_r1`` block (anatomy_r1_verl.config.anatomy_r1.AnatomyR1Config)
    train_extra_info: list[dict]  # every train row's extra_info, in dataset order
    train_column: Callable[[str], list | None]  # a top-level train column by name (None when absent)
    batch_size: int  # prompts per training batch
    total_steps: int
    dataloader_workers: int = 0


class MethodHook:
    """Base of every method hook; each event does nothing unless a method overrides it."""

    name: str = ""

    @classmethod
    def from_context(cls, ctx: HookContext) -> MethodHook | None:
        return cls()

    def sampler(self):
        """The train sampler this method draws with, or None for verl's own."""
        return None

    def on_draw(self, batch: DrawnBatch) -> None:
        pass

    def on_step(self, samples: StepSamples) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


class HookError(ValueError):
    """A hook named in ``anatomy_r1.hooks`` that cannot be found or built."""


HOOK_REGISTRY: dict[str, type[MethodHook]] = {}


def register_hook(name: str) -> Callable[[type[MethodHook]], type[MethodHook]]:
    """Class decorator: make a :class:`MethodHook` available as ``name`` in ``anatomy_r1.hooks``."""

    def decorate(cls: type[MethodHook]) -> type[MethodHook]:
        if name in HOOK_REGISTRY and HOOK_REGISTRY[name] is not cls:
            raise HookError(f"hook {name!r} is registered twice: {HOOK_REGISTRY[name]} and {cls}")
        cls.name = name
        HOOK_REGISTRY[name] = cls
        return cls

    return decorate


def _load_module(spec: str, target: str):
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise HookError(f"anatomy_r1.hooks: {spec!r}: no file {path} (give an absolute path)")
        module_name = f"anatomy_r1_hook_{abs(hash(path)):x}"
        if module_name not in sys.modules:
            loader = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(loader)
            sys.modules[module_name] = module  # pickling and dataclasses look the module up here
            loader.loader.exec_module(module)
        return sys.modules[module_name]
    try:
        return importlib.import_module(target)
    except ImportError as e:
        raise HookError(f"anatomy_r1.hooks: {spec!r}: cannot import {target!r} ({e})") from e


def resolve_hook(spec: str) -> type[MethodHook]:
    """The hook class ``spec`` names: a registered name, ``package.module:Class`` or ``/path/file.py:Class``."""
    if spec in HOOK_REGISTRY:
        return HOOK_REGISTRY[spec]
    target, sep, attr = spec.rpartition(":")
    if not (sep and target and attr):
        raise HookError(
            f"anatomy_r1.hooks: unknown hook {spec!r}; registered: {sorted(HOOK_REGISTRY)}, or give "
            "'package.module:Class' / '/path/file.py:Class'"
        )
    cls = getattr(_load_module(spec, target), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, MethodHook)):
        raise HookError(f"anatomy_r1.hooks: {spec!r} is not a subclass of anatomy_r1_verl.hooks.MethodHook")
    if not cls.name:
        cls.name = spec
    return cls


def build_hooks(specs: Iterable[str], ctx: HookContext) -> list[MethodHook]:
    """The hooks ``specs`` name, built from ``ctx``, leaving out those whose method is off."""
    hooks = [h for h in (resolve_hook(s).from_context(ctx) for s in specs) if h is not None]
    if sum(h.sampler() is not None for h in hooks) > 1:
        raise HookError(f"anatomy_r1.hooks: more than one hook draws the train rows ({[h.name for h in hooks]})")
    return hooks
