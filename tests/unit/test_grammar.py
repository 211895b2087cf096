"""The question grammar: one set of phrasings, rendered by the synthetic benchmark and rewritten by GDQA."""

import numpy as np

from anatomy_r1_verl.gdqa.rewrite import rewrite_question
from anatomy_r1_verl.grammar import FAMILIES, SSG_TEMPLATES, TEMPLATES, ZERO_HOP, render_question
from anatomy_r1_verl.synthetic.questions import candidates, parse_question
from anatomy_r1_verl.synthetic.scene import sample_layout


def _programs(n_scenes=30):
    rng = np.random.default_rng(0)
    for _ in range(n_scenes):
        scene = sample_layout(rng)
        for family in FAMILIES:
            for _, program in candidates(scene, family)[:3]:
                yield program


def test_every_phrasing_of_every_family_renders_and_parses_back():
    seen = set()
    for program in _programs():
        for tid in range(len(TEMPLATES[program["family"]])):
            text = render_question(program, tid)
            parsed = parse_question(text)
            core = {k: v for k, v in program.items() if k != "template"}
            assert parsed is not None and {k: v for k, v in parsed.items() if k != "template"} == core, text
            assert parsed["template"] == tid or render_question(parsed) == text  # same-text templates share
            seen.add((program["family"], tid))
    assert seen == {(f, t) for f in FAMILIES for t in range(len(TEMPLATES[f]))}


def test_zero_hop_phrasings_are_stated_once_and_shared():
    assert TEMPLATES["zero_hop"] is ZERO_HOP and SSG_TEMPLATES["zero_hop"][: len(ZERO_HOP)] == ZERO_HOP


def test_gdqa_rewrites_a_synthetic_question_into_the_other_phrasings_of_its_family():
    program = next(p for p in _programs() if p["family"] == "zero_hop")
    text = render_question(program, 0)
    family, others = rewrite_question(text)
    assert family == "zero_hop"
    rendered = {render_question(program, t) for t in range(len(ZERO_HOP))}
    assert rendered - {text} <= {t for _, t in others} and text not in {t for _, t in others}
