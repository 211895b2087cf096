"""An installed package (a wheel, no source checkout) carries the recipes, the config, the shipped model and the
similarity table, and finds them."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (path,) = out.glob("anatomy_r1_verl-*.whl")
    return path


def test_wheel_holds_recipes_config_model_and_tables(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {p.name for p in (REPO / "recipes").glob("*.yaml")}
    assert {f"anatomy_r1_verl/recipes/{r}" for r in recipes} <= names
    for needed in (
        "anatomy_r1_verl/config/anatomy_r1.yaml",
        "anatomy_r1_verl/config/profile/cpu.yaml",
        "anatomy_r1_verl/config/profile/cpu_vllm.yaml",
        "anatomy_r1_verl/patches/child_startup/sitecustomize.py",
        "anatomy_r1_verl/config/model/qwen25vl_3b.yaml",
        "anatomy_r1_verl/config/benchmark/omnimedvqa.yaml",
        "anatomy_r1_verl/config/sft/anatomy_r1_sft.yaml",
        "anatomy_r1_verl/config/sft/model/tiny.yaml",
        "anatomy_r1_verl/report/figures.py",
        "data_prep/sft.py",
        "anatomy_r1_verl/tiny/assets/tiny-qwen25vl-warm/model.safetensors",
        "anatomy_r1_verl/ascl/anatomy_similarity.yaml",
        "anatomy_r1_verl/patches/mrope_position_ids.py",
        "reward_fns/combine.py",
        "data_prep/synthetic.py",
    ):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "anatomy-r1 = anatomy_r1_verl.commands.cli:main" in text
    assert "anatomy_r1_verl = anatomy_r1_verl.plugin" in text


def test_installed_package_lists_and_composes_its_recipes(wheel, tmp_path):
    site = tmp_path / "site"
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    code = (
        "import anatomy_r1_verl, sys; from anatomy_r1_verl.commands import train as t; "
        "from anatomy_r1_verl.launch import compose as c, recipes as r; "
        "print(anatomy_r1_verl.__file__); print(r.recipes_dir()); "
        "cfg = c.compose('demo_cpu', []); print(cfg.actor_rollout_ref.model.path); "
        "sys.exit(t.main_train(['--list']))"
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert lines[0].startswith(str(site)) and lines[1] == str(site / "anatomy_r1_verl" / "recipes")
    assert lines[2].startswith(str(site / "anatomy_r1_verl" / "tiny" / "assets"))  # the shipped model, installed
    assert any(ln.startswith("demo_cpu ") for ln in lines) and any(ln.startswith("ssgvqa_anatomy_r1 ") for ln in lines)
