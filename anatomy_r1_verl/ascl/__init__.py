"""ASCL, the anatomical-similarity curriculum: easy questions first, by the difficulty S(q).

- :mod:`.difficulty`: S(q) of a question from the similarity of its options (embedding backend, the expert
  closeness table ``anatomy_similarity.yaml``), and ``anatomy-r1 prepare score``;
- :mod:`.curriculum`: the competence schedule and the resumable curriculum sampler;
- :mod:`.feedback`: the trainer hook (sampler, per-step metrics, adaptive feedback).

Nothing to register in verl: the hook registers itself as ``curriculum`` and the ``anatomy_r1`` trainer mode
installs its sampler.
"""


def register() -> list[str]:
    """Import ASCL's trainer hook, which registers itself (:func:`anatomy_r1_verl.hooks.register_hook`)."""
    from anatomy_r1_verl.ascl import feedback  # noqa: F401

    return ["method hook 'curriculum' = anatomy_r1_verl.ascl.feedback.CurriculumFeedback (@register_hook)"]
