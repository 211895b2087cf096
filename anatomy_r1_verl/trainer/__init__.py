"""The ``anatomy_r1`` trainer mode (:mod:`.mode`) over the method hooks (:mod:`anatomy_r1_verl.hooks`)."""

TRAINER_MODE = "anatomy_r1"


def register() -> list[str]:
    """Import the trainer mode, whose class registers itself through verl's ``@register_trainer``."""
    from anatomy_r1_verl.trainer import metrics, mode  # noqa: F401

    return [
        f"TRAINER_REGISTRY[{TRAINER_MODE!r}] = anatomy_r1_verl.trainer.mode.AnatomyR1Trainer (@register_trainer)",
        "method hook 'reward_metrics' = anatomy_r1_verl.trainer.metrics.RewardMetrics (@register_hook)",
    ]
