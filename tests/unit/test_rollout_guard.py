"""The rollout guard, driven with hand-made step metrics (the vLLM integration test provokes it in verl)."""

import math

import pytest
from omegaconf import OmegaConf

from anatomy_r1_verl.launch.compose import compose
from anatomy_r1_verl.trainer.rollout_guard import MAX_KEY, MEAN_KEY, RolloutGuard, RolloutPolicyMismatch


def cfg(rollout="vllm", calc=True, **guard):
    g = {"enable": True, "max_probs_diff_mean": 0.05, "max_probs_diff_max": None, **guard}
    return OmegaConf.create(
        {
            "anatomy_r1": {"rollout_guard": g},
            "actor_rollout_ref": {"rollout": {"name": rollout, "calculate_log_probs": calc}},
        }
    )


def test_agreeing_policies_pass_and_are_counted():
    guard = RolloutGuard.from_config(cfg(max_probs_diff_max=1e-3))
    out = guard.check({MAX_KEY: 2e-6, MEAN_KEY: 1e-8}, step=1)
    assert out == {"rollout_guard/checked": 2.0}


def test_wrong_policy_stops_the_run_with_the_fix_named():
    guard = RolloutGuard.from_config(cfg(max_probs_diff_max=1e-3))
    with pytest.raises(RolloutPolicyMismatch) as e:
        guard.check({MAX_KEY: 0.96, MEAN_KEY: 0.01}, step=1)
    msg = str(e.value)
    assert "step 1" in msg and MAX_KEY in msg and "0.96" in msg
    assert "anatomy_r1.rollout_guard.max_probs_diff_max" in msg and "mm_device_do_normalize=false" in msg


def test_mean_threshold_alone_and_nan_fails():
    guard = RolloutGuard.from_config(cfg())
    assert guard.check({MAX_KEY: 0.9, MEAN_KEY: 1e-3}, step=3) == {"rollout_guard/checked": 1.0}
    with pytest.raises(RolloutPolicyMismatch, match="max_probs_diff_mean"):
        guard.check({MAX_KEY: 0.9, MEAN_KEY: 0.2}, step=3)
    with pytest.raises(RolloutPolicyMismatch, match="nan"):
        guard.check({MEAN_KEY: math.nan}, step=3)


def test_engine_rollout_needs_the_metric():
    with pytest.raises(RolloutPolicyMismatch, match="calculate_log_probs=true"):
        RolloutGuard.from_config(cfg(calc=False))
    guard = RolloutGuard.from_config(cfg())
    with pytest.raises(RolloutPolicyMismatch, match="logged no"):
        guard.check({}, step=1)
    # the in-process hfcpu rollout: a missing metric is not an error
    assert RolloutGuard.from_config(cfg(rollout="hfcpu", calc=False)).check({}, step=1) == {
        "rollout_guard/checked": 0.0
    }


def test_off_and_bad_thresholds():
    assert RolloutGuard.from_config(cfg(enable=False)) is None
    assert RolloutGuard.from_config(cfg(max_probs_diff_mean=None)) is None
    with pytest.raises(ValueError, match="max_probs_diff_max must be a positive number"):
        RolloutGuard.from_config(cfg(max_probs_diff_max=0))


def test_profiles_configure_the_guard():
    for profile in ("cpu", "gpu", "cpu_vllm"):
        full = compose("demo_cpu", [f"profile={profile}"])
        guard = RolloutGuard.from_config(full)
        assert guard is not None and guard.max_diff_mean == 0.05, profile
    vllm = compose("demo_cpu", ["profile=cpu_vllm"])
    assert RolloutGuard.from_config(vllm).max_diff_max == pytest.approx(1e-3)
