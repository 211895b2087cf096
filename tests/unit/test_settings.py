"""The typed ``anatomy_r1`` block: every key typed and defaulted once, misspellings refused at composition."""

import dataclasses

import pytest
from omegaconf import OmegaConf

from anatomy_r1_verl.config.anatomy_r1 import AnatomyR1Config, ConfigError, anatomy_r1_config
from anatomy_r1_verl.launch.compose import RecipeError, compose

# one misspelled key per block, as a recipe override would carry it
MISSPELLED = {
    "anatomy_r1": "anatomy_r1.prompt_cach=false",
    "curriculum": "anatomy_r1.curriculum.enabel=true",
    "gdqa": "anatomy_r1.gdqa.selekt=online",
    "watchdog": "anatomy_r1.watchdog.intervall_s=1",
    "rollout_guard": "anatomy_r1.rollout_guard.max_diff=0.1",
    "demo": "anatomy_r1.demo.sed=3",
    "demo.questions": "anatomy_r1.demo.questions.trian=8",
}


@pytest.mark.parametrize("block", sorted(MISSPELLED))
def test_a_misspelled_key_fails_composition_naming_it(block):
    override = MISSPELLED[block]
    key = override.split("=")[0].split(".")[-1]
    with pytest.raises((RecipeError, ConfigError), match=key):
        compose("demo_cpu", [override])
    # the same key forced in with Hydra's '+' passes Hydra and is refused by the typed block, known keys listed
    with pytest.raises((RecipeError, ConfigError), match=rf"unknown key\(s\) \['{key}'\]; known: \["):
        compose("demo_cpu", ["+" + override])


def test_types_and_ranges_are_checked_when_the_run_is_composed():
    with pytest.raises((RecipeError, ConfigError), match="engine_threads"):
        compose("demo_cpu", ["anatomy_r1.engine_threads=two"])
    with pytest.raises((RecipeError, ConfigError), match=r"anatomy_r1.engine_threads must be a positive integer"):
        compose("demo_cpu", ["anatomy_r1.engine_threads=0"])
    with pytest.raises((RecipeError, ConfigError), match=r"anatomy_r1.gdqa.select: 'both'"):
        compose("demo_cpu", ["anatomy_r1.gdqa.select=both"])
    with pytest.raises((RecipeError, ConfigError), match=r"anatomy_r1.curriculum.pacing: 'cubic'"):
        compose("demo_cpu", ["anatomy_r1.curriculum.pacing=cubic"])
    with pytest.raises((RecipeError, ConfigError), match=r"anatomy_r1.trainer: 'dpo'"):
        compose("demo_cpu", ["anatomy_r1.trainer=dpo"])


def test_the_composed_block_is_typed_with_the_profiles_and_recipes_values():
    typed = anatomy_r1_config(compose("demo_cpu", ["data.seed=7"]))
    assert isinstance(typed, AnatomyR1Config)
    assert typed.engine_threads == 2 and typed.replay_poll_interval == 0.05  # the cpu profile
    assert typed.demo.image_position == "last" and typed.demo.questions.val == 256  # the demo recipe
    assert typed.curriculum.seed == 7  # bound to data.seed by the base config
    assert typed.prompt_cache is True and typed.rollout_guard.max_probs_diff_mean == 0.05  # the dataclasses
    assert typed.run_dir.endswith("/runs/demo_cpu")


def test_each_default_is_stated_once():
    """The base YAML's anatomy_r1 block holds no value the dataclasses already state (only the data-seed
    binding): a default changed in one place cannot disagree with another."""
    from anatomy_r1_verl.launch.compose import CONFIG_DIR

    base = OmegaConf.load(CONFIG_DIR / "anatomy_r1.yaml").anatomy_r1
    assert OmegaConf.to_container(base) == {"curriculum": {"seed": "${data.seed}"}}
    sft = OmegaConf.load(CONFIG_DIR / "sft" / "anatomy_r1_sft.yaml").anatomy_r1
    assert OmegaConf.to_container(sft) == {"trainer": "sft"}


def test_a_saved_or_hand_made_config_gets_the_same_types_and_defaults():
    typed = anatomy_r1_config(OmegaConf.create({"anatomy_r1": {"gdqa": {"enable": True}}}))
    assert typed.gdqa.enable and typed.gdqa.select == "static" and typed.hooks == AnatomyR1Config().hooks
    assert dataclasses.asdict(anatomy_r1_config(OmegaConf.create({}))) == dataclasses.asdict(
        anatomy_r1_config(OmegaConf.create({"anatomy_r1": {}}))
    )
