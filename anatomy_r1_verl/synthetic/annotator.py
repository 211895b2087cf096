"""A simulated annotator who confuses anatomically similar structures: the label noise of the warm-start data.

The paper's premise: expert labels for surgical anatomy are scarce and noisy, and what annotators and models
confuse is similar-looking, adjacent anatomy (gallbladder and cystic plate, gut and omentum). The benchmark
model is warm-started on frames labelled by such an annotator: each anatomy region of a confused class is
written down as its partner with probability ``rate`` (independently per region, from the frame's own random
stream), and the questions are then asked and answered on the annotated scene graph. The image is rendered
from the true scene. A model fitted to these labels names the wrong one of a similar pair more often than the
right one (``rate`` > 0.5) while still giving the right one real probability, which is what a verifiable
reward (computed from the true scene in RL) can correct.

The confused pairs default to the closest disjoint pairs of ASCL's closeness table
(``anatomy_r1_verl/ascl/anatomy_similarity.yaml``), so the curriculum's notion of "similar" and the
annotator's are one table: greedily the closest pair, then the closest pair of the classes left, while the
closeness is at least ``min_closeness``.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

import numpy as np

from anatomy_r1_verl.schema import ANATOMY_CLASSES


@functools.cache
def closest_pairs(min_closeness: float = 0.65, max_pairs: int = 2) -> tuple[tuple[str, str], ...]:
    """Disjoint class pairs of ASCL's closeness table, closest first (greedy matching). The shipped table is read
    once per process (the generator asks for every frame)."""
    from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable

    table = ClosenessTable(DEFAULT_TABLE)
    idx = {c: table.index(c) for c in ANATOMY_CLASSES}
    pairs = sorted(
        ((table.matrix[idx[a], idx[b]], a, b) for i, a in enumerate(ANATOMY_CLASSES) for b in ANATOMY_CLASSES[i + 1 :]),
        reverse=True,
    )
    used: set[str] = set()
    out: list[tuple[str, str]] = []
    for closeness, a, b in pairs:
        if closeness < min_closeness or len(out) >= max_pairs:
            break
        if a not in used and b not in used:
            out.append((a, b))
            used |= {a, b}
    return tuple(out)


@dataclass
class AnnotatorConfig:
    rate: float = 0.0  # P(a region of a confused class is labelled as its partner); 0 = a perfect annotator
    pairs: list = field(default_factory=list)  # [[class, class], ...]; empty = closest_pairs()

    def validate(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"annotator rate must be in [0, 1], got {self.rate}")
        seen: set[str] = set()
        for pair in self.pairs:
            if len(pair) != 2 or pair[0] == pair[1] or any(c not in ANATOMY_CLASSES for c in pair):
                raise ValueError(f"annotator pair {pair!r}: need two different classes of {list(ANATOMY_CLASSES)}")
            if seen & set(pair):
                raise ValueError(f"annotator pairs {self.pairs!r}: a class is in two pairs")
            seen |= set(pair)

    def partner(self) -> dict[str, str]:
        """class -> the class it is confused with (both directions)."""
        pairs = self.pairs or closest_pairs()
        return {**{a: b for a, b in pairs}, **{b: a for a, b in pairs}}


def annotate(scene: dict, cfg: AnnotatorConfig, rng: np.random.Generator) -> dict:
    """The scene graph as the annotator wrote it down: a copy with some confused classes swapped.

    Only ``class`` changes; position, colour attribute (what the frame shows) and relations stay. Regions
    relabelled get ``"true_class"``; the scene gets ``"annotator": {"rate", "pairs", "relabelled"}``."""
    partner = cfg.partner()
    out = copy.deepcopy(scene)
    relabelled = 0
    for obj in out["objects"]:
        # one draw per anatomy region whatever its class, so the stream does not depend on the labels
        u = rng.random() if obj["kind"] == "anatomy" else 1.0
        if obj["kind"] == "anatomy" and obj["class"] in partner and u < cfg.rate:
            obj["true_class"] = obj["class"]
            obj["class"] = partner[obj["class"]]
            relabelled += 1
    pairs = sorted({tuple(sorted(pair)) for pair in partner.items()})
    out["annotator"] = {"rate": cfg.rate, "pairs": [list(p) for p in pairs], "relabelled": relabelled}
    return out
