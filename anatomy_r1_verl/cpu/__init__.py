"""verl without an accelerator: the ``cpu`` platform (:mod:`.platform`), the ``hfcpu`` rollout backend
(:mod:`.rollout`) and its reproducible seeded sampling (:mod:`.sampling`)."""

PLATFORM_NAME = "cpu"
ROLLOUT_NAME = "hfcpu"
# torch threads of the FSDP engines' processes (actor, ref) on CPU: set by `anatomy-r1 train` from
# anatomy_r1.engine_threads (the cpu profile: 2); every other process of a CPU run keeps OMP_NUM_THREADS=1
ENGINE_THREADS_ENV = "ANATOMY_R1_ENGINE_THREADS"


def register() -> list[str]:
    """Import the modules, which register themselves into verl when their import completes (like verl's own
    decorators; a module may be mid-import here when user code imported it before verl)."""
    from anatomy_r1_verl.cpu import platform, rollout  # noqa: F401

    return [
        f"PlatformRegistry[{PLATFORM_NAME!r}] = anatomy_r1_verl.cpu.platform.PlatformCPU (register)",
        f"EngineRegistry[language_model, value_model][fsdp, fsdp2][{PLATFORM_NAME!r}] = verl's FSDP engines, "
        f"setting their process's torch threads from {ENGINE_THREADS_ENV} (register)",
        f"RolloutReplicaRegistry[{ROLLOUT_NAME!r}] = anatomy_r1_verl.cpu.rollout.HFRolloutReplica (register)",
        f"rollout.base._ROLLOUT_REGISTRY[({ROLLOUT_NAME!r}, 'async')] = anatomy_r1_verl.cpu.rollout.HFServerAdapter "
        "(verl 0.9.1 has no public function for it)",
    ]
