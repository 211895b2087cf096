"""Every recipe composes with verl 0.9.1's own config (no Ray, no model), under both profiles."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from anatomy_r1_verl.commands.train import main_train
from anatomy_r1_verl.launch import checks, compose, recipes, run
from anatomy_r1_verl.launch import env as launch_env

ALL_RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))
SFT_RECIPES = [p for p in ALL_RECIPES if "anatomy_r1_sft" in p.read_text()]
RECIPES = [p for p in ALL_RECIPES if p not in SFT_RECIPES]  # the RL recipes (verl's main_ppo)


def test_there_are_recipes():
    assert any(p.stem == "demo_cpu" for p in RECIPES)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_recipe_composes_with_verl(recipe, profile):
    cfg = compose.compose(str(recipe), [f"profile={profile}"])
    OmegaConf.resolve(cfg)  # every interpolation resolves
    assert cfg.trainer.v1.trainer_mode == "anatomy_r1"
    assert cfg.reward.custom_reward_function.path == "pkg://reward_fns.combine"
    assert cfg.actor_rollout_ref.rollout.name == {"cpu": "hfcpu", "gpu": "vllm"}[profile]
    assert cfg.trainer.device == {"cpu": "cpu", "gpu": "cuda"}[profile]
    # verl's own keys are all there (composition kept ppo_trainer whole)
    assert "ppo_epochs" in cfg.actor_rollout_ref.actor and "filter_groups" in cfg.algorithm
    # verl's dataclass configs accept what the profile set
    from verl.utils.config import omega_conf_to_dataclass

    omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)


def test_cpu_profile_holds_the_cpu_settings():
    cfg = compose.compose("demo_cpu", [])
    assert cfg.actor_rollout_ref.model.override_config.attn_implementation == "sdpa"
    assert cfg.actor_rollout_ref.actor.strategy == "fsdp2"
    assert cfg.ray_kwargs.ray_init.num_gpus == cfg.trainer.n_gpus_per_node
    assert cfg.data.dataloader_num_workers == 0


def test_overrides_reach_verl_keys():
    cfg = compose.compose("demo_cpu", ["actor_rollout_ref.rollout.n=6", "trainer.total_training_steps=3"])
    assert cfg.actor_rollout_ref.rollout.n == 6 and cfg.trainer.total_training_steps == 3


def test_ignored_top_level_reward_key_is_refused():
    cfg = compose.compose("demo_cpu", ["+custom_reward_function.path=/tmp/x.py"])
    with pytest.raises(compose.RecipeError, match="reward.custom_reward_function"):
        checks._check_reward(cfg)


def test_bad_reward_weight_is_refused_before_ray():
    cfg = compose.compose("demo_cpu", ["+reward.custom_reward_function.reward_kwargs.weights.nosuch=1.0"])
    with pytest.raises(compose.RecipeError, match="weights.nosuch"):
        checks._check_reward(cfg)


def test_missing_data_file_names_the_key(tmp_path):
    cfg = compose.compose("demo_cpu", [f"data.train_files={tmp_path}/none.parquet"])
    with pytest.raises(compose.RecipeError, match="data.train_files"):
        checks._check_files(cfg)


def test_bad_override_is_a_recipe_error():
    with pytest.raises(compose.RecipeError, match="no_such_key"):
        compose.compose("demo_cpu", ["trainer.no_such_key=1"])


def test_unknown_recipe():
    with pytest.raises(compose.RecipeError, match="not found"):
        compose.compose("no_such_recipe")


def _leaves(node, prefix=""):
    for k, v in node.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            yield from _leaves(v, path)
        else:
            yield path


@pytest.mark.parametrize("recipe", ALL_RECIPES, ids=lambda p: p.stem)
def test_recipe_keys_are_real_verl_keys(recipe):
    """A YAML file can add any key silently; a typo in a recipe must not become a setting nobody reads."""
    raw = OmegaConf.to_container(OmegaConf.load(recipe))
    base = compose.compose("ssgvqa_sft" if recipe in SFT_RECIPES else "demo_cpu")
    missing = object()
    for key in _leaves({k: v for k, v in raw.items() if k not in ("hydra", "defaults")}):
        if key.startswith("anatomy_r1.demo."):
            continue
        assert OmegaConf.select(base, key, default=missing) is not missing, f"{recipe.name}: unknown key {key}"


def test_method_recipes_switch_the_methods():
    full = compose.compose("ssgvqa_anatomy_r1")
    assert full.anatomy_r1.curriculum.enable and full.anatomy_r1.gdqa.enable
    assert full.actor_rollout_ref.rollout.name == "vllm"  # GPU recipes default to the gpu profile
    assert compose.compose("ssgvqa_anatomy_r1", ["profile=cpu"]).actor_rollout_ref.rollout.name == "hfcpu"
    plain = compose.compose("ssgvqa_grpo")
    assert not plain.anatomy_r1.curriculum.enable and not plain.anatomy_r1.gdqa.enable
    assert compose.compose("ssgvqa_dapo").algorithm.filter_groups.enable


def test_hfcpu_server_settings_come_from_verls_engine_kwargs():
    from verl.utils.config import omega_conf_to_dataclass

    from anatomy_r1_verl.cpu.rollout import server_kwargs

    cfg = compose.compose("demo_cpu", ["actor_rollout_ref.rollout.engine_kwargs.hfcpu.max_batch=64"])
    rollout = omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)  # what the replica receives
    assert server_kwargs(rollout) == {"threads": 1, "max_batch": 64, "batch_wait_s": 0.05, "max_wait_s": 1.0}
    bad = compose.compose("demo_cpu", ["+actor_rollout_ref.rollout.engine_kwargs.hfcpu.batch=3"])
    with pytest.raises(ValueError, match=r"engine_kwargs.hfcpu: unknown keys \['batch'\]"):
        server_kwargs(omega_conf_to_dataclass(bad.actor_rollout_ref.rollout))


def test_train_list_names_every_shipped_recipe(capsys):
    assert main_train(["--list"]) == 0
    out = capsys.readouterr().out
    for recipe in ALL_RECIPES:
        assert any(line.startswith(recipe.stem + " ") for line in out.splitlines()), recipe.stem
    assert recipes.resolve_recipe("ssgvqa_grpo") == RECIPES[[r.stem for r in RECIPES].index("ssgvqa_grpo")]


PRESETS = Path(__file__).resolve().parents[2] / "anatomy_r1_verl" / "config"
MODELS = sorted(p.stem for p in (PRESETS / "model").glob("*.yaml"))
BENCHMARKS = sorted(p.stem for p in (PRESETS / "benchmark").glob("*.yaml"))


def test_presets_exist():
    assert MODELS == ["qwen25vl_3b", "qwen25vl_7b", "tiny"]
    assert BENCHMARKS == ["omnimedvqa", "ssgvqa", "synthetic"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("benchmark", BENCHMARKS)
@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_presets_compose_and_select_model_and_data(model, benchmark, profile):
    cfg = compose.compose("ssgvqa_grpo_ascl", [f"profile={profile}", f"model={model}", f"benchmark={benchmark}"])
    OmegaConf.resolve(cfg)
    from verl.utils.config import omega_conf_to_dataclass

    omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)
    # the recipe's own file follows the selected benchmark's folder; validation is the benchmark's
    assert cfg.data.train_files.endswith(f"/{benchmark}/train_scored.parquet")
    assert cfg.data.val_files.endswith(
        f"/{benchmark}/" + ("test.parquet" if benchmark == "omnimedvqa" else "val.parquet")
    )
    path = cfg.actor_rollout_ref.model.path
    expected = {"qwen25vl_3b": "Qwen2.5-VL-3B", "qwen25vl_7b": "Qwen2.5-VL-7B", "tiny": "tiny-qwen25vl-warm"}[model]
    assert expected in path or (model != "tiny" and path.startswith("/"))  # env vars may point elsewhere
    tp = cfg.actor_rollout_ref.rollout.tensor_model_parallel_size
    assert tp == {"qwen25vl_3b": 1, "qwen25vl_7b": 2, "tiny": 1}[model]
    assert cfg.actor_rollout_ref.rollout.name == {"cpu": "hfcpu", "gpu": "vllm"}[profile]


def test_ssgvqa_recipes_default_to_the_7b_model_and_ssgvqa(monkeypatch):
    monkeypatch.delenv("ANATOMY_R1_BASE_MODEL", raising=False)
    monkeypatch.setenv("ANATOMY_R1_DATA", "/d")
    cfg = compose.compose("ssgvqa_grpo")
    OmegaConf.resolve(cfg)
    assert cfg.actor_rollout_ref.model.path == "/models/Qwen2.5-VL-7B-Instruct"
    assert cfg.data.train_files == "/d/ssgvqa/train.parquet"


def test_there_is_an_sft_recipe():
    assert [p.stem for p in SFT_RECIPES] == ["ssgvqa_sft"]


@pytest.mark.parametrize("recipe", SFT_RECIPES, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["cpu", "gpu"])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_sft_recipe_composes_with_verls_sft_config(recipe, profile, model, benchmark):
    from verl.utils.config import omega_conf_to_dataclass

    cfg = compose.compose(str(recipe), [f"profile={profile}", f"model={model}", f"benchmark={benchmark}"])
    OmegaConf.resolve(cfg)
    assert compose.trainer_kind(cfg) == "sft" and compose.model_key(cfg) == "model.path"
    assert cfg.trainer.device == {"cpu": "cpu", "gpu": "cuda"}[profile]
    assert cfg.data.train_files.endswith(f"/{benchmark}/sft_train.parquet")
    expected = {"qwen25vl_3b": "Qwen2.5-VL-3B", "qwen25vl_7b": "Qwen2.5-VL-7B", "tiny": "tiny-qwen25vl-warm"}[model]
    assert expected in cfg.model.path or (model != "tiny" and cfg.model.path.startswith("/"))
    # verl's SFT trainer builds these dataclasses from the config first thing (HFModelConfig loads the
    # tokenizer, so only for the model that is on disk)
    for key in ("engine", "optim", "checkpoint") + (("model",) if model == "tiny" else ()):
        omega_conf_to_dataclass(cfg[key])
    assert cfg.engine.strategy == "fsdp2" and "messages_key" in cfg.data


def test_sft_launch_is_verls_sft_trainer_on_the_saved_config(tmp_path):
    cfg = compose.compose("ssgvqa_sft", ["profile=cpu"])
    cmd = run.sft_command(cfg, tmp_path)
    assert cmd[1:3] == ["-m", "torch.distributed.run"] and "verl.trainer.sft_trainer" in cmd
    assert f"--config-path={tmp_path}" in cmd and "--config-name=config" in cmd
    with pytest.raises(compose.RecipeError, match="multi-node"):
        run.sft_command(compose.compose("ssgvqa_sft", ["trainer.nnodes=2"]), tmp_path)
    with pytest.raises(compose.RecipeError, match="anatomy_r1.trainer"):
        compose.trainer_kind(compose.compose("ssgvqa_sft", ["anatomy_r1.trainer=dpo"]))


def test_cpu_profile_threads_the_fsdp_engine_process_only(monkeypatch):
    """One setting (anatomy_r1.engine_threads) reaches the FSDP engines' processes as an environment variable;
    every other process keeps OMP_NUM_THREADS=1; the registered cpu engine applies it when it is built."""
    import torch

    from anatomy_r1_verl.cpu import ENGINE_THREADS_ENV, platform

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cfg = compose.compose("demo_cpu", [])
    env = launch_env.run_env(cfg)
    assert env["OMP_NUM_THREADS"] == "1" and env[ENGINE_THREADS_ENV] == "2"
    assert cfg.actor_rollout_ref.actor.use_dynamic_bsz is True
    assert ENGINE_THREADS_ENV not in launch_env.run_env(compose.compose("demo_cpu", ["anatomy_r1.engine_threads=null"]))
    with pytest.raises(ValueError, match="anatomy_r1.engine_threads"):
        launch_env.run_env(compose.compose("demo_cpu", ["anatomy_r1.engine_threads=0"]))
    with pytest.raises(ValueError, match="anatomy_r1.engine_threads"):
        launch_env.run_env(compose.compose("demo_cpu", ["anatomy_r1.engine_threads=true"]))
    gpu = compose.compose("demo_cpu", ["profile=gpu"])
    assert ENGINE_THREADS_ENV not in launch_env.run_env(gpu)

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(ENGINE_THREADS_ENV, "1" if before != 1 else "2")
        platform._engine_threads()
        assert torch.get_num_threads() == (1 if before != 1 else 2)
    finally:
        torch.set_num_threads(before)
