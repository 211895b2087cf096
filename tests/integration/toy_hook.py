"""A third method hook from outside the package: the trainer runs it from ``anatomy_r1.hooks`` alone, with no
edit to ``anatomy_r1_verl/trainer`` (tests/integration/test_method_cpu.py)."""

from anatomy_r1_verl.hooks import MethodHook


class ToyHook(MethodHook):
    """Counts what the trainer hands it and logs the counts, so a test can see each event reach it."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.drawn, self.steps = 0, 0

    @classmethod
    def from_context(cls, ctx):
        return cls(ctx.batch_size)

    def on_draw(self, batch):
        self.drawn += len(batch.rows)
        for row in batch.rows:
            row["toy_seen_at_step"] = batch.step  # travels with the row to the agent loop and the reward

    def on_step(self, samples):
        self.steps += 1
        seen = [e.get("toy_seen_at_step") for e in samples.extra_info]
        return {
            "toy/steps": float(self.steps),
            "toy/rows_drawn": float(self.drawn),
            "toy/samples": float(len(samples.keys)),
            "toy/samples_marked": float(sum(s is not None for s in seen)),
            "toy/batch_size": float(self.batch_size),
        }

    def state_dict(self):
        return {"steps": self.steps, "drawn": self.drawn}

    def load_state_dict(self, state):
        self.steps, self.drawn = state.get("steps", 0), state.get("drawn", 0)
