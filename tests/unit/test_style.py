"""The house rules, checked on every run of the suite: ruff's lint and format, the import layers
(import-linter, contracts in pyproject.toml), and the paper's method importable without verl or Ray."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*cmd, timeout=120):
    return subprocess.run(list(cmd), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_ruff_is_clean(args):
    p = _run(str(BIN / "ruff"), *args)
    assert p.returncode == 0, (
        f"ruff {' '.join(args)}:\n{p.stdout[-4000:]}{p.stderr[-2000:]}\nfix: ruff check --fix . && ruff format ."
    )


def test_import_layers_hold():
    p = _run(str(BIN / "lint-imports"), "--no-cache", timeout=300)
    assert p.returncode == 0 and "0 broken" in p.stdout, p.stdout[-6000:] + p.stderr[-2000:]


def test_the_method_imports_neither_verl_nor_ray_when_loaded():
    """Importing every module of ascl, gdqa and reward_fns (and the contract under them) in a fresh interpreter
    loads no verl, Ray or TransferQueue module: the method runs and is tested without the framework."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import anatomy_r1_verl.ascl as a, anatomy_r1_verl.gdqa as g, reward_fns as r\n"
        "for pkg in (a, g, r):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import anatomy_r1_verl.hooks, anatomy_r1_verl.schema\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('verl', 'ray', 'transfer_queue', 'vllm'))\n"
        "print('LOADED', bad)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "LOADED []" in p.stdout, p.stdout[-2000:]
