"""The project's verl agent loop, ``anatomy_r1_agent``: verl's single-turn loop, plus GDQA's question variants
spread over a group (:mod:`.loop`) and one prompt preparation per distinct prompt per worker
(:mod:`.prompt_cache`)."""

AGENT_LOOP = "anatomy_r1_agent"


def register() -> list[str]:
    """Import the agent loop, whose class registers itself through verl's agent-loop ``register`` decorator."""
    from anatomy_r1_verl.agent_loop import loop  # noqa: F401

    return [f"agent loop {AGENT_LOOP!r} = anatomy_r1_verl.agent_loop.loop.GDQAAgentLoop (@register)"]
