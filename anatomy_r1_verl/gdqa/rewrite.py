"""GDQA's rewrite of real SSG-VQA questions: regex patterns that recognise SSG-VQA's anatomy questions (zero-hop
"what anatomy is at the top-left ..." and relation "what is the X that is left of Y ...") and their rewrites into
the other phrasings of the question grammar (:data:`anatomy_r1_verl.grammar.SSG_TEMPLATES`). A question no
pattern matches keeps its text.
"""

from __future__ import annotations

import re

from anatomy_r1_verl.grammar import SSG_TEMPLATES

_POS = r"(?P<pos>(?:top|bottom|middle|mid|center|centre)(?:[- ](?:left|right|middle|mid|center|centre))?)"
_FRAME = r"(?: (?:of|side of|part of) the (?:frame|image|scene|picture))?"
# the asked-for thing: up to three modifiers (colour, position) and a head noun; "color of the ..." is no modifier
_MOD = r"(?!(?:of|the|color|colour|type|kind|number|many|name|shape|material|size)\b)[a-z_\-]+ "
_TARGET = rf"(?P<target>(?:{_MOD}){{0,3}}?(?:anatomy|anatomical structure|structure|organ|object|thing))"
_REL = (
    r"(?:both )?(?:(?:to the |on the )?(?:left|right)(?: side)? of|above|below|under|over|within|inside"
    r"|in front of|behind)"
)
_WHERE = rf"(?P<where>{_REL} .+?)"
_LINK = r"(?:(?:that|which) is (?:located )?|located )?"
_ASK = r"what (?:is it|is its name|name is it|is the name of it|is this|is that)"

# (family, regex); zero-hop patterns first. Matching is case-insensitive on the normalised text.
SSG_PATTERNS: list[tuple[str, re.Pattern]] = [
    (fam, re.compile(p, re.IGNORECASE))
    for fam, p in [
        (
            "zero_hop",
            rf"^what (?:is the )?(?:name of the )?anatomy (?:is )?(?:located )?(?:at|in) the {_POS}{_FRAME}\?$",
        ),
        ("zero_hop", rf"^there is an? anatomy (?:located )?(?:at|in) the {_POS}{_FRAME}; {_ASK}\?$"),
        ("zero_hop", rf"^which anatomy (?:is|occupies|can be seen)(?: (?:located )?(?:at|in))? the {_POS}{_FRAME}\?$"),
        ("relation", rf"^what is the name of the {_TARGET} {_LINK}{_WHERE}\?$"),
        ("relation", rf"^what is the {_TARGET} {_LINK}{_WHERE}\?$"),
        ("relation", rf"^what {_TARGET} is (?:located )?{_WHERE}\?$"),
        ("relation", rf"^which {_TARGET} (?:is (?:located )?|can be seen ){_WHERE}\?$"),
        ("relation", rf"^there is an? {_TARGET} {_LINK}{_WHERE}; {_ASK}\?$"),
        ("relation", rf"^the {_TARGET} {_LINK}{_WHERE} is what\?$"),
    ]
]


def _normalise(text: str) -> str:
    """SSG-VQA spacing quirks: ``"frame ?"`` -> ``"frame?"``, ``"object?; what"`` -> ``"object; what"``."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    text = re.sub(r"\s+([?;,])", r"\1", text)
    return text.replace("?;", ";")


def _same_text(a: str, b: str) -> bool:
    return _normalise(a).lower() == _normalise(b).lower()


def parse_ssg_question(question: str) -> tuple[str, dict] | None:
    """(family, slots) of an SSG-VQA-style anatomy question, or None when no pattern matches.

    Families: ``zero_hop`` (slot ``pos``), ``one_hop`` and ``single_and`` (slots ``target``, ``where``).
    """
    text = _normalise(question)
    for family, pattern in SSG_PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        slots = {k: v for k, v in m.groupdict().items() if v}
        if family == "zero_hop":
            slots["pos"] = slots["pos"].lower().replace(" ", "-")
        else:
            slots["target"] = slots["target"].lower()
            where = slots["where"]
            family = "single_and" if where.lower().startswith("both ") or " and " in where else "one_hop"
        return family, slots
    return None


def rewrite_question(question: str) -> tuple[str | None, list[tuple[int, str]]]:
    """The family of an SSG-VQA-style question and its other phrasings as ``(template id, text)``.

    ``(None, [])`` when no pattern matches (the question keeps its text).
    """
    parsed = parse_ssg_question(question)
    if parsed is None:
        return None, []
    family, slots = parsed
    templates = SSG_TEMPLATES["zero_hop" if family == "zero_hop" else "relation"]
    if "target" in slots:
        slots["a_target"] = ("an " if slots["target"][0] in "aeiou" else "a ") + slots["target"]
    out: list[tuple[int, str]] = []
    for tid, template in enumerate(templates):
        text = template.format(**slots)
        if not _same_text(text, question) and all(not _same_text(text, t) for _, t in out):
            out.append((tid, text))
    return family, out
