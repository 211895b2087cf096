"""The SSG-VQA question grammar: the question families, their phrasings and the phrases they are built from.

One grammar serves both places that write questions: the synthetic benchmark renders its question programs with
it (:mod:`anatomy_r1_verl.synthetic.questions`, which also executes and parses them on a scene), and GDQA rewrites
a question into its other phrasings with it (:mod:`anatomy_r1_verl.gdqa.rewrite` for SSG-VQA text,
:mod:`anatomy_r1_verl.gdqa.variants` for programs). A phrasing is stated once here; a new one is a line here.

Families follow SSG-VQA's: ``zero_hop`` (the anatomy at a grid position), ``one_hop`` and ``attribute_relation``
(the anatomy in a relation to an anchor, named by class, or through a colour), ``single_and`` (two relations at
once). SSG-VQA's own relation questions also name the asked-for thing (``{target}``: "anatomy", "organ", ...),
so GDQA's rewrite of real SSG-VQA text has a ``relation`` family of its own.
"""

from __future__ import annotations

import re

FAMILIES = ("zero_hop", "one_hop", "attribute_relation", "single_and")
DEFAULT_FAMILY_WEIGHTS = {"zero_hop": 0.4, "one_hop": 0.3, "attribute_relation": 0.15, "single_and": 0.15}
# the look-alike benchmark asks which anatomy is at a cell, in every phrasing: a related cell's look-up is a kind of
# difficulty S(q) does not measure (docs/benchmarks.md, the look-alike benchmark)
LOOKALIKE_FAMILY_WEIGHTS = {"zero_hop": 1.0, "one_hop": 0.0, "attribute_relation": 0.0, "single_and": 0.0}


def family_mix(weights: dict[str, float] | None) -> dict[str, float]:
    """Every family's weight (0 for one left out) from a partial mix; empty or None: the default mix."""
    if not weights:
        return dict(DEFAULT_FAMILY_WEIGHTS)
    unknown = sorted(set(weights) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown question families {unknown}; known: {list(FAMILIES)}")
    return {f: float(weights.get(f, 0.0)) for f in FAMILIES}


# the zero-hop phrasings both the synthetic questions and SSG-VQA's use
ZERO_HOP = [
    "What anatomy is at the {pos} of the frame?",
    "There is an anatomy at the {pos} of the frame; what is its name?",
    "Which anatomy occupies the {pos} of the image?",
]

# the phrasings of each family of the synthetic programs (the template id of a program indexes its family's list)
TEMPLATES: dict[str, list[str]] = {
    "zero_hop": ZERO_HOP,
    "one_hop": [
        "What is the name of the anatomy {where}?",
        "There is an anatomy {where}; what is its name?",
        "Which anatomy can be seen {where}?",
    ],
    "attribute_relation": [
        "What is the name of the anatomy {where}?",
        "What anatomy is {where}?",
        "There is an anatomy {where}; which one is it?",
    ],
    "single_and": [
        "What is the anatomy that is both {where1} and {where2}?",
        "There is an anatomy that is {where1} and {where2}; what is its name?",
        "Which anatomy is {where1} and also {where2}?",
    ],
}

# the phrasings GDQA rewrites real SSG-VQA questions into: zero hop as above plus SSG-VQA's own wording; a
# relation question keeps its asked-for thing ({target}, {a_target} with its article) and its relation ({where})
SSG_TEMPLATES: dict[str, list[str]] = {
    "zero_hop": [*ZERO_HOP, "What is the name of the anatomy at the {pos} of the frame?"],
    "relation": [
        "What is the name of the {target} that is {where}?",
        "There is {a_target} that is {where}; what is its name?",
        "Which {target} is {where}?",
        "What {target} is {where}?",
    ],
}

# a grid position as the question says it
POS_PHRASE = {
    "top-left": "top-left",
    "top-mid": "top-middle",
    "top-right": "top-right",
    "mid-left": "middle-left",
    "center": "center",
    "mid-right": "middle-right",
    "bottom-left": "bottom-left",
    "bottom-mid": "bottom-middle",
    "bottom-right": "bottom-right",
}
REL_PHRASE = {"left": "left of", "right": "right of", "above": "above", "below": "below"}


def ref_phrase(ref: dict) -> str:
    """Referring expression of an anchor, e.g. "the orange hook", "the green thing at the center"."""
    if "class" in ref:
        noun = ref["class"].lower()
    else:
        noun = {"anatomy": "anatomy", "instrument": "instrument"}.get(ref.get("kind", ""), "thing")
    words = ["the"] + ([ref["colour"]] if "colour" in ref else []) + [noun]
    if "pos" in ref:
        words += ["at the", POS_PHRASE[ref["pos"]]]
    return " ".join(words)


def where_phrase(clause: dict) -> str:
    """A relation clause ``{"rel": ..., "anchor": {...}}`` as words: "left of the hook"."""
    return f"{REL_PHRASE[clause['rel']]} {ref_phrase(clause['anchor'])}"


def render_question(program: dict, template_id: int | None = None) -> str:
    """Question text of ``program`` in template ``template_id`` of its family (default: its own)."""
    family = program["family"]
    tid = program.get("template", 0) if template_id is None else template_id
    template = TEMPLATES[family][tid]
    if family == "zero_hop":
        return template.format(pos=POS_PHRASE[program["pos"]])
    if family in ("one_hop", "attribute_relation"):
        return template.format(where=where_phrase(program))
    if family == "single_and":
        c1, c2 = program["clauses"]
        return template.format(where1=where_phrase(c1), where2=where_phrase(c2))
    raise ValueError(f"unknown question family {family!r}; known: {FAMILIES}")


def template_regex(template: str) -> re.Pattern:
    """A regex matching the texts ``template`` renders, its slots as named groups."""
    pattern = re.escape(template)
    for slot in ("pos", "where1", "where2", "where"):
        pattern = pattern.replace(re.escape("{" + slot + "}"), f"(?P<{slot}>.+?)")
    return re.compile(f"^{pattern}$")
