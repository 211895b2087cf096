"""GDQA, group-diverse question augmentation: K phrasings of one question inside one GRPO group.

- :mod:`.variants`: build a row's variants (question wording, instruction, option order) and check them;
- :mod:`.rewrite`: the SSG-VQA question grammar that rewrites a question into equivalent phrasings;
- :mod:`.agent_loop`: the ``anatomy_r1_agent`` agent loop giving session ``i`` of a row variant ``i % K``;
- :mod:`.selection`: the trainer hook choosing which rows are spread (static / online);
- :mod:`.metrics`: the invalid-gradient ratio (groups with zero reward spread).
"""

AGENT_LOOP = "anatomy_r1_agent"


def register() -> list[str]:
    """Import the agent loop, whose class registers itself through verl's agent-loop ``register`` decorator."""
    from anatomy_r1_verl.gdqa import agent_loop  # noqa: F401

    return [f"agent loop {AGENT_LOOP!r} = anatomy_r1_verl.gdqa.agent_loop.GDQAAgentLoop (@register)"]
