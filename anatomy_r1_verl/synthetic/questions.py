"""Question families of the synthetic benchmark: programs, templates, executor and sampler.

A question is a *program*, a JSON-serialisable dict, rendered to text by a template of its family (the question
grammar, :mod:`anatomy_r1_verl.grammar`) and answered by executing it on the scene graph (see :mod:`anatomy_r1_verl.synthetic.scene`). The families follow
SSG-VQA's template families:

- ``zero_hop``: ``{"family": "zero_hop", "template": 0, "pos": "top-left"}``
  "What anatomy is at the top-left of the frame?"
- ``one_hop``: ``{"family": "one_hop", "template": 0, "rel": "above",
  "anchor": {"kind": "instrument", "class": "grasper"}}``
  "What is the name of the anatomy above the grasper?"
- ``attribute_relation``: like ``one_hop`` but the anchor is named through a colour attribute:
  ``"anchor": {"kind": "instrument", "class": "hook", "colour": "orange"}`` or
  ``{"colour": "green", "pos": "top-mid"}`` ("the green thing at the top-middle").
- ``single_and``: ``{"family": "single_and", "template": 0, "clauses": [{"rel": "above",
  "anchor": {...}}, {"rel": "left", "anchor": {...}}]}``
  "What is the anatomy that is both above the hook and left of the liver?"

An anchor (a referring expression) is a dict of object fields that must all match: any of
``kind``, ``class``, ``colour``, ``pos``. Relations use adjacent-cell semantics (see
:mod:`anatomy_r1_verl.synthetic.scene`): "the anatomy above X" is the anatomy in the cell directly above X.

Colours sit on the anchor, never on the asked-for anatomy: anatomy colours map one-to-one to class
names, so "the red thing left of ..." would give the answer (Liver) away in the text.

The sampler keeps a program only when it is :func:`well_posed`: its anchors each name exactly one
object and executing it gives exactly one answer, so every question has one correct option. The
``template`` field is the template the row was written with; :func:`render_question` renders the
same program in any other template and :func:`parse_question` reads a rendered question back.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from anatomy_r1_verl.grammar import (
    DEFAULT_FAMILY_WEIGHTS,
    FAMILIES,
    POS_PHRASE,
    REL_PHRASE,
    TEMPLATES,
    render_question,
    template_regex,
)
from anatomy_r1_verl.schema import ANATOMY_CLASSES
from anatomy_r1_verl.synthetic.scene import BAND_RGB, INSTRUMENTS, REGION_COLOURS, RELATIONS, related

_ANCHOR_KEYS = ("kind", "class", "colour", "pos")


# ---------------------------------------------------------------- text: the grammar's, parsed back here


_NOUNS = {
    **{c.lower(): {"kind": "anatomy", "class": c} for c in ANATOMY_CLASSES},
    **{c: {"kind": "instrument", "class": c} for c in INSTRUMENTS},
    "anatomy": {"kind": "anatomy"},
    "instrument": {"kind": "instrument"},
    "thing": {},
}
_PHRASE_POS = {v: k for k, v in POS_PHRASE.items()}
_REF = re.compile(
    "^the (?:(?P<colour>{}) )?(?P<noun>{})(?: at the (?P<pos>{}))?$".format(
        "|".join(list(REGION_COLOURS) + list(BAND_RGB)), "|".join(_NOUNS), "|".join(_PHRASE_POS)
    )
)
_WHERE = re.compile("^(?P<rel>{}) (?P<ref>the .+)$".format("|".join(REL_PHRASE.values())))
_REL_OF = {v: k for k, v in REL_PHRASE.items()}


def _parse_where(text: str) -> dict | None:
    m = _WHERE.match(text)
    r = _REF.match(m.group("ref")) if m else None
    if not r:
        return None
    ref = dict(_NOUNS[r.group("noun")])
    ref.update({k: v for k, v in (("colour", r.group("colour")), ("pos", _PHRASE_POS.get(r.group("pos") or ""))) if v})
    return {"rel": _REL_OF[m.group("rel")], "anchor": ref}


def parse_question(text: str) -> dict | None:
    """Inverse of :func:`render_question`: the program (with ``template``) of a generated question.

    Returns None for text no template produces. A relation question whose anchor names a colour
    belongs to ``attribute_relation``, otherwise to ``one_hop``.
    """
    for family, templates in TEMPLATES.items():
        for tid, template in enumerate(templates):
            m = template_regex(template).match(text)
            if not m:
                continue
            slots = m.groupdict()
            if family == "zero_hop":
                if slots["pos"] in _PHRASE_POS:
                    return {"family": family, "template": tid, "pos": _PHRASE_POS[slots["pos"]]}
                continue
            if family == "single_and":
                clauses = [_parse_where(slots["where1"]), _parse_where(slots["where2"])]
                if all(clauses):
                    return {"family": family, "template": tid, "clauses": clauses}
                continue
            clause = _parse_where(slots["where"])
            if clause and (family == "attribute_relation") == ("colour" in clause["anchor"]):
                return {"family": family, "template": tid, **clause}
    return None


def phrasings(program: dict, scene: dict | None, answer: str) -> list[tuple[int, str]] | None:
    """The program's other-template phrasings ``(template id, text)``, each parsed back to the same program and,
    with the scene, executed to the same answer; None when the program itself does not give ``answer`` on its
    scene (inconsistent metadata: the row is not varied). GDQA's variants of synthetic rows use it."""

    def core(p: dict) -> dict:
        return {k: v for k, v in p.items() if k != "template"}

    if scene is not None and execute(program, scene) != [answer]:
        return None
    own = program.get("template", 0)
    out = []
    for tid in range(len(TEMPLATES.get(program.get("family"), []))):
        if tid == own:
            continue
        text = render_question(program, tid)
        parsed = parse_question(text)
        if parsed is None or core(parsed) != core(program):
            continue
        if scene is not None and execute(parsed, scene) != [answer]:
            continue
        out.append((tid, text))
    return out


# ---------------------------------------------------------------- execution


def resolve(ref: dict, scene: dict) -> list[dict]:
    """Objects of the scene that match every field of an anchor."""
    unknown = set(ref) - set(_ANCHOR_KEYS)
    if unknown:
        raise ValueError(f"anchor {ref} has unknown fields {sorted(unknown)}; allowed: {_ANCHOR_KEYS}")
    return [o for o in scene["objects"] if all(o[k] == v for k, v in ref.items())]


def _relate(clause: dict, scene: dict) -> set[int]:
    """Ids of the anatomy regions that stand in ``clause['rel']`` to some object matching the anchor."""
    anchors = resolve(clause["anchor"], scene)
    return {
        t["id"] for t in scene["objects"] if t["kind"] == "anatomy" for a in anchors if related(t, clause["rel"], a)
    }


def execute(program: dict, scene: dict) -> list[str]:
    """The anatomy class names satisfying ``program`` on ``scene``, sorted. Unique answer = length 1."""
    by_id = {o["id"]: o for o in scene["objects"]}
    return sorted({by_id[i]["class"] for i in _answer_ids(program, scene)})


def answer_positions(program: dict, scene: dict) -> list[str]:
    """Grid positions of the anatomy regions satisfying ``program``, in reading order (row, column).

    The warm-start target names the first of them in its ``<think>``, which ties the question's
    position arithmetic to the visual look-up of one cell."""
    by_id = {o["id"]: o for o in scene["objects"]}
    cells = sorted((by_id[i]["row"], by_id[i]["col"], by_id[i]["pos"]) for i in _answer_ids(program, scene))
    return [pos for _, _, pos in cells]


def _answer_ids(program: dict, scene: dict) -> set[int]:
    family = program["family"]
    if family == "zero_hop":
        ids = {o["id"] for o in scene["objects"] if o["kind"] == "anatomy" and o["pos"] == program["pos"]}
    elif family in ("one_hop", "attribute_relation"):
        ids = _relate(program, scene)
    elif family == "single_and":
        sets = [_relate(c, scene) for c in program["clauses"]]
        ids = set.intersection(*sets) if sets else set()
    else:
        raise ValueError(f"unknown question family {family!r}; known: {FAMILIES}")
    return ids


# ---------------------------------------------------------------- candidates


def _unique_ref(obj: dict, scene: dict, menus: Iterable[tuple[str, ...]]) -> dict:
    """The first anchor built from ``menus`` (tuples of fields) that names ``obj`` and nothing else."""
    for fields in menus:
        ref = {k: obj[k] for k in fields}
        if len(resolve(ref, scene)) == 1:
            return ref
    raise AssertionError(f"no unique reference for {obj}")  # unreachable: (kind, pos) is always unique


_PLAIN_MENU = (("kind", "class"), ("kind", "class", "pos"))
_COLOUR_MENU = {
    "instrument": (("kind", "class", "colour"), ("colour",), ("kind", "class", "colour", "pos")),
    "anatomy": (("colour",), ("colour", "pos")),
}


def _anchor(obj: dict, scene: dict, with_colour: bool) -> dict:
    menu = _COLOUR_MENU[obj["kind"]] if with_colour else _PLAIN_MENU
    return _unique_ref(obj, scene, menu)


def proposals(scene: dict, family: str) -> list[tuple[str, dict]]:
    """Candidate programs (without ``template``) of a family, each tagged with its anchor kind.

    Anchors are the shortest referring expressions that name one object. The tag ("anatomy" or
    "instrument") lets the sampler balance instrument-anchored questions, which would otherwise be
    rare (at most 3 instruments against 9 regions). Keep only :func:`well_posed` ones (see
    :func:`candidates`).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown question family {family!r}; known: {FAMILIES}")
    objects = scene["objects"]
    anatomy = [o for o in objects if o["kind"] == "anatomy"]
    if family == "zero_hop":
        return [("anatomy", {"family": family, "pos": o["pos"]}) for o in anatomy]
    with_colour = family == "attribute_relation"
    refs = {o["id"]: _anchor(o, scene, with_colour) for o in objects}
    out = []
    for target in anatomy:
        # (anchor kind, clause) for every object that the target stands in a relation to
        clauses = [
            (a["kind"], {"rel": rel, "anchor": refs[a["id"]]})
            for rel in RELATIONS
            for a in objects
            if related(target, rel, a)
        ]
        if family != "single_and":
            out += [(kind, {"family": family, **c}) for kind, c in clauses]
            continue
        for i, (k1, c1) in enumerate(clauses):
            for k2, c2 in clauses[i + 1 :]:
                if c1["rel"] != c2["rel"]:
                    kind = "instrument" if "instrument" in (k1, k2) else "anatomy"
                    out.append((kind, {"family": family, "clauses": [c1, c2]}))
    return out


def well_posed(program: dict, scene: dict) -> bool:
    """Each anchor names exactly one object ("the X") and the program has exactly one answer."""
    clauses = program.get("clauses") or ([program] if "anchor" in program else [])
    return all(len(resolve(c["anchor"], scene)) == 1 for c in clauses) and len(execute(program, scene)) == 1


def candidates(scene: dict, family: str) -> list[tuple[str, dict]]:
    """The well-posed :func:`proposals` of a family."""
    return [(kind, p) for kind, p in proposals(scene, family) if well_posed(p, scene)]


# ---------------------------------------------------------------- sampling


def sample_programs(
    scene: dict, n: int, rng: random.Random, weights: dict[str, float] = DEFAULT_FAMILY_WEIGHTS
) -> list[dict]:
    """``n`` distinct well-posed programs for one frame, families drawn by ``weights``, with template ids.

    Within a family, instrument-anchored and anatomy-anchored programs are drawn with equal chance
    when both exist. A family with no program left on this frame is skipped for the next draw.
    Proposals are checked with :func:`well_posed` when drawn (checking all of them up front is most
    of the generator's time).
    """
    pools: dict[str, dict[str, list[dict]]] = {}
    programs: list[dict] = []
    while len(programs) < n:
        live = [f for f in FAMILIES if weights.get(f, 0) > 0 and _pool(pools, scene, f)]
        if not live:
            raise ValueError(
                f"a frame has fewer than {n} distinct questions for family weights {weights}; "
                f"lower --questions-per-frame"
            )
        family = rng.choices(live, weights=[weights[f] for f in live])[0]
        by_kind = pools[family]
        kind = rng.choice(sorted(k for k, v in by_kind.items() if v))
        program = by_kind[kind].pop(rng.randrange(len(by_kind[kind])))
        if well_posed(program, scene):
            tid = rng.randrange(len(TEMPLATES[family]))
            programs.append({"family": family, "template": tid, **{k: v for k, v in program.items() if k != "family"}})
    return programs


def _pool(pools: dict, scene: dict, family: str) -> bool:
    if family not in pools:
        pools[family] = {}
        for kind, program in proposals(scene, family):
            pools[family].setdefault(kind, []).append(program)
    return any(pools[family].values())
