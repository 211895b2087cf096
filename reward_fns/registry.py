"""Turn the ``weights`` mapping of the reward config into callable reward components.

A component name is one of

- a built-in: ``accuracy``, ``format``, ``consistency``, ``checks``;
- ``package.module:function``: an importable module;
- ``/path/to/file.py:function`` (or ``file://...``): a Python file, loaded once and cached.

A component is called as ``fn(solution_str=..., ground_truth=..., extra_info=..., data_source=...)`` and
returns a float (or bool). Configuration mistakes raise ``ValueError`` naming the config key; a component
that fails on one sample is scored 0.0, counted in :data:`ERROR_COUNTS` and logged once per name.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import math
import numbers
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from reward_fns.mcq import accuracy_reward, consistency_reward, format_reward
from reward_fns.option_checks import option_check_reward

logger = logging.getLogger(__name__)

WEIGHTS_KEY = "reward.custom_reward_function.reward_kwargs.weights"
SOURCES_KEY = "reward.custom_reward_function.reward_kwargs.components"
BUILTINS: dict[str, Callable[..., Any]] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "consistency": consistency_reward,
    "checks": option_check_reward,
}
DEFAULT_WEIGHTS: dict[str, float] = {"accuracy": 1.0, "format": 0.5}

# Failures of components on single samples, by component name (never reset; read it for diagnostics).
ERROR_COUNTS: Counter[str] = Counter()

_lock = threading.RLock()  # verl scores samples from a thread pool
_warned: set[str] = set()
_file_modules: dict[str, Any] = {}
_resolved: dict[tuple, list[tuple[str, Callable[..., Any], float]]] = {}


def _config_error(name: str | None, problem: str, fix: str) -> ValueError:
    key = WEIGHTS_KEY if name is None else f"{WEIGHTS_KEY}.{name}"
    return ValueError(f"{key}: {problem}. {fix}")


def parse_weights(weights: Any) -> dict[str, float]:
    """``weights`` (dict, DictConfig or None) merged over :data:`DEFAULT_WEIGHTS`, values as float.

    Merging means ``{"format": 0}`` keeps accuracy at 1.0; set ``accuracy: 0`` to drop it.
    """
    merged = dict(DEFAULT_WEIGHTS)
    if weights is None:
        return merged
    if not isinstance(weights, Mapping):
        raise _config_error(
            None,
            f"expected a mapping of component name -> weight, got {weights!r}",
            "Write it as e.g. {accuracy: 1.0, format: 0.5}",
        )
    for key, value in dict(weights).items():
        name = str(key)
        try:
            if isinstance(value, bool):
                raise TypeError
            weight = float(value)
        except (TypeError, ValueError):
            raise _config_error(name, f"weight {value!r} is not a number", "Give a number >= 0") from None
        if not math.isfinite(weight) or weight < 0:
            raise _config_error(name, f"weight {value!r} is negative or not finite", "Give a number >= 0")
        merged[name] = weight
    return merged


def resolve(name: str) -> Callable[..., Any]:
    """The function a component name stands for; raises ValueError naming the config key if there is none."""
    if name in BUILTINS:
        return BUILTINS[name]
    target, sep, fn_name = name.rpartition(":")
    if not (sep and target and fn_name) or target == "file":
        raise _config_error(
            name,
            "unknown reward component",
            f"Use a built-in ({', '.join(BUILTINS)}), 'package.module:function' or '/path/to/file.py:function'",
        )
    is_file = target.startswith("file://") or target.endswith(".py") or "/" in target or os.sep in target
    module = _load_file(name, target.removeprefix("file://")) if is_file else _import(name, target)
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise _config_error(name, f"{target} has no function {fn_name!r}", "Check the function name")
    if inspect.iscoroutinefunction(fn):
        raise _config_error(name, f"{fn_name} is async", "Reward components must be plain functions")
    return fn


def _import(name: str, module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise _config_error(
            name,
            f"cannot import module {module_name!r} ({type(exc).__name__}: {exc})",
            "Install it or put it on PYTHONPATH, or give a file path instead",
        ) from exc


def _load_file(name: str, path: str) -> Any:
    path = os.path.abspath(path)
    with _lock:
        if path in _file_modules:
            return _file_modules[path]
        if not os.path.isfile(path):
            raise _config_error(
                name,
                f"file {path} does not exist",
                "Give an absolute path (the reward runs in Ray workers whose working directory may differ)",
            )
        module_name = f"reward_fns_user_{abs(hash(path)):x}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise _config_error(name, f"{path} is not a loadable Python file", "Point it at a .py file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look the module up here
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise _config_error(
                name, f"loading {path} failed ({type(exc).__name__}: {exc})", "Fix the error in that file"
            ) from exc
        _file_modules[path] = module
        return module


def parse_sources(sources: Any) -> dict[str, str]:
    """``reward_kwargs.components``: short name -> ``module:function`` or ``/file.py:function``.

    It lets a component get a plain name that Hydra's command line accepts as a key
    (``+...weights.brevity=0.2 '+...components.brevity="/abs/f.py:brevity"'``).
    """
    if sources is None:
        return {}
    if not isinstance(sources, Mapping):
        raise ValueError(
            f"{SOURCES_KEY}: expected a mapping of name -> 'module:function' or '/file.py:function', got {sources!r}"
        )
    out = {}
    for name, target in dict(sources).items():
        if not isinstance(target, str) or not target:
            raise ValueError(f"{SOURCES_KEY}.{name}: expected 'module:function' or '/file.py:function', got {target!r}")
        out[str(name)] = target
    return out


def components(weights: Any, sources: Any = None) -> list[tuple[str, Callable[..., Any], float]]:
    """``[(name, function, weight), ...]`` for a ``weights`` config (and optional ``components`` naming
    where each short name lives), resolved once per distinct config."""
    parsed = parse_weights(weights)
    where = parse_sources(sources)
    key = (tuple(sorted(parsed.items())), tuple(sorted(where.items())))
    with _lock:
        if key not in _resolved:
            _resolved[key] = [(name, _resolve_named(name, where.get(name)), weight) for name, weight in parsed.items()]
        return _resolved[key]


def _resolve_named(name: str, target: str | None) -> Callable[..., Any]:
    if target is None:
        return resolve(name)
    try:
        return resolve(target)
    except ValueError as e:
        raise ValueError(f"{SOURCES_KEY}.{name}: {e}") from e


def call_safely(name: str, fn: Callable[..., Any], failures: list | None = None, **kwargs: Any) -> float:
    """``float(fn(**kwargs))``; 0.0 (counted, warned about once per name, and ``name`` appended to ``failures``)
    if it raises or returns no number."""
    try:
        value = fn(**kwargs)
        if isinstance(value, numbers.Real) and math.isfinite(value):
            return float(value)
        problem = f"returned {type(value).__name__} {str(value)[:80]!r}, not a finite number"
    except Exception as exc:
        problem = f"raised {type(exc).__name__}: {str(exc)[:200]}"
    if failures is not None:
        failures.append(name)
    with _lock:
        ERROR_COUNTS[name] += 1
        first = name not in _warned
        _warned.add(name)
    if first:
        logger.warning(
            "reward component %r %s; scoring it 0.0 (this warning is shown once per component, "
            "failures are counted in reward_fns.registry.ERROR_COUNTS)",
            name,
            problem,
        )
    return 0.0
