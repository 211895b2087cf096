"""The ``anatomy_r1`` trainer mode (:mod:`.mode`) over plain method hooks (:mod:`.hooks`)."""

TRAINER_MODE = "anatomy_r1"


def register() -> list[str]:
    """Import the trainer mode, whose class registers itself through verl's ``@register_trainer``."""
    from anatomy_r1_verl.trainer import mode  # noqa: F401

    return [f"TRAINER_REGISTRY[{TRAINER_MODE!r}] = anatomy_r1_verl.trainer.mode.AnatomyR1Trainer (@register_trainer)"]
