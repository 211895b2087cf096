"""GDQA, group-diverse question augmentation: K phrasings of one question inside one GRPO group.

- :mod:`.variants`: build a row's variants (question wording, instruction, option order) and check them;
- :mod:`.rewrite`: the SSG-VQA question grammar that rewrites a question into equivalent phrasings;
- :mod:`.selection`: the trainer hook choosing which rows are spread (static / online);
- :mod:`.metrics`: the invalid-gradient ratio (groups with zero reward spread).
"""


def register() -> list[str]:
    """Import GDQA's trainer hook, which registers itself as ``gdqa`` (:func:`anatomy_r1_verl.hooks.register_hook`)."""
    from anatomy_r1_verl.gdqa import selection  # noqa: F401

    return ["method hook 'gdqa' = anatomy_r1_verl.gdqa.selection.GDQASelection (@register_hook)"]
