"""verl entry point: a weighted sum of named reward components.

Point verl at it with::

    reward:
      custom_reward_function:
        path: pkg://reward_fns.combine      # or the path of this file
        name: compute_score
        reward_kwargs:
          weights: {accuracy: 1.0, format: 0.5, brevity: 0.2}
          components: {brevity: "/abs/path/my_reward.py:brevity"}   # or "my_pkg.rewards:brevity"

A component may also be named by its target directly in ``weights`` (``"my_pkg.rewards:brevity": 0.2``);
Hydra's command line only accepts plain names as keys, hence ``components``.

``weights`` is merged over the defaults ``{accuracy: 1.0, format: 0.5}``. The result always has
``score`` (the training reward), ``acc``, ``format``, one key per extra component and ``errors`` (how many
components raised or returned no number for this completion, each scored 0), all floats, so verl can log each
of them as a metric (the ``anatomy_r1`` trainer logs ``reward/errors``, the step's total).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from anatomy_r1_verl.schema import GDQA_GROUND_TRUTH, GDQA_OPTIONS, decode_options
    from reward_fns.mcq import as_text
    from reward_fns.registry import call_safely
    from reward_fns.registry import components as resolve_components
except ImportError:  # verl loaded this file by path and the package is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from anatomy_r1_verl.schema import GDQA_GROUND_TRUTH, GDQA_OPTIONS, decode_options
    from reward_fns.mcq import as_text
    from reward_fns.registry import call_safely
    from reward_fns.registry import components as resolve_components


ERRORS_KEY = "errors"


def own_variant(ground_truth: Any, extra_info: Any) -> tuple[Any, Any]:
    """GDQA: a rollout that answered a question variant is scored against that variant's letter and options
    (``anatomy_r1_verl.gdqa.agent_loop`` puts them in the rollout's extra fields, which verl merges into
    ``extra_info``; the field names are :mod:`anatomy_r1_verl.schema`'s)."""
    if not isinstance(extra_info, dict) or extra_info.get(GDQA_GROUND_TRUTH) is None:
        return ground_truth, extra_info
    options = extra_info.get(GDQA_OPTIONS)
    if options is not None:
        options = decode_options(options)
    return extra_info[GDQA_GROUND_TRUTH], {**extra_info, "options": options}


def compute_score(
    data_source: Any,
    solution_str: Any,
    ground_truth: Any,
    extra_info: Any = None,
    weights: Any = None,
    components: Any = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Score one completion. Raises ValueError only for a bad ``weights``/``components`` config, never for
    model output."""
    parts = resolve_components(weights, components)
    ground_truth, extra_info = own_variant(ground_truth, extra_info)
    sample = dict(
        solution_str=as_text(solution_str), ground_truth=ground_truth, extra_info=extra_info, data_source=data_source
    )
    failed: list[str] = []
    values = {name: call_safely(name, fn, failures=failed, **sample) for name, fn, _ in parts}
    score = sum(weight * values[name] for name, _, weight in parts)
    return {
        "score": float(score),
        "acc": values.pop("accuracy"),
        "format": values.pop("format"),
        **values,
        ERRORS_KEY: float(len(failed)),
    }
