"""Rule rewards for lettered multiple-choice answers written as ``<think> ... </think> <answer>B</answer>``.

Plain functions that never raise, whatever the model wrote:

- :func:`format_reward`   1.0 for exactly one think block followed by one non-empty answer block, else 0.0
- :func:`consistency_reward` 1.0 if the answer is the option the think block concludes with, else 0.0
- :func:`extract_answer`  the stripped content of the last ``<answer> ... </answer>`` block, or None
- :func:`normalize_choice` what the model wrote (``B``, ``(b)``, ``B. Liver``, ``Option B``, ``liver``) -> letter
- :func:`accuracy_reward` 1.0 if the answer block names the ground-truth option, else 0.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from anatomy_r1_verl.schema import LETTERS  # the one option-letter alphabet

# Special tokens that may survive decoding at the end of a completion.
_END_TOKENS = ("<|im_end|>", "<|endoftext|>")
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_FORMAT_RE = re.compile(r"<think>.*?</think>\s*<answer>(.*?)</answer>", re.DOTALL)

# A letter answer: optional "Option"/"Choice"/"Answer:" prefix, the letter (maybe in brackets), then
# the end, or a separator ("." or ":" or whitespace) and the rest, which may repeat the option text.
_LETTER_RE = re.compile(
    r"(?:(?:option|choice|answer)\s*:?\s*)?"
    r"(?P<open>[(\[])?(?P<letter>[a-z])(?P<close>[)\]])?"
    r"(?:\s*(?P<punct>[.:])\s*|\s+|$)(?P<rest>.*)",
    re.IGNORECASE | re.ASCII,
)
# Decoration models put around a short answer: markdown bold, quotes, backticks.
_DECORATION = " \t\r\n*\"'`"


def as_text(value: Any) -> str:
    """Any model output as str (None -> "", bytes decoded, anything else through str())."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def option_key(text: str) -> str:
    """Case- and whitespace-insensitive form used to compare option texts."""
    return " ".join(text.split()).strip(_DECORATION + ".").casefold()


def as_options(options: Any) -> list[str]:
    """Option texts as a list of str; accepts lists, tuples and numpy arrays (parquet), else []."""
    if options is None or isinstance(options, (str, bytes, Mapping)):
        return []
    try:
        opts = [as_text(o) for o in options]
    except Exception:  # not iterable (a number, a 0-d array...): no options known
        return []
    # Tolerate options stored with their own label ("A. Liver") by dropping that label.
    for i, opt in enumerate(opts[: len(LETTERS)]):
        m = re.match(rf"\(?{LETTERS[i]}[.):]\s+", opt)
        if m:
            opts[i] = opt[m.end() :]
    return opts


def options_of(extra_info: Any) -> list[str]:
    """The row's option texts from its ``extra_info`` (``[]`` when it has none)."""
    return as_options(extra_info.get("options")) if isinstance(extra_info, Mapping) else []


def format_reward(solution_str: Any = "", **_: Any) -> float:
    """1.0 if the completion is ``<think>...</think>`` then ``<answer>...</answer>`` and nothing else."""
    text = as_text(solution_str).strip()
    stripped = True
    while stripped:  # drop trailing end-of-turn tokens (no regex: stays linear on huge inputs)
        stripped = False
        for token in _END_TOKENS:
            if text.endswith(token):
                text, stripped = text[: -len(token)].rstrip(), True
    if any(text.count(tag) != 1 for tag in _TAGS):
        return 0.0
    match = _FORMAT_RE.fullmatch(text)
    return 1.0 if match and match.group(1).strip() else 0.0


def extract_answer(solution_str: Any) -> str | None:
    """Stripped content of the last complete ``<answer> ... </answer>`` block, or None."""
    text = as_text(solution_str)
    end = text.rfind("</answer>")
    start = text.rfind("<answer>", 0, end) if end >= 0 else -1
    if start < 0:
        return None
    return text[start + len("<answer>") : end].strip()


def normalize_choice(answer_text: Any, options: Sequence[str] | None = None) -> str | None:
    """Map an answer to its option letter, or None when it is empty, invalid or ambiguous.

    Accepts ``B``, ``B.``, ``(B)``, ``B)``, ``b``, ``Option B``, ``B. Liver``, ``B: Liver`` and, when the
    options are known, the option text itself (``liver``, ``Cystic plate``). A letter together with an
    option text that is not that letter's option (``B. Liver`` where B is Gut) counts as None.
    Without options only letter forms count.
    """
    opts = [option_key(o) for o in as_options(options)]
    text = " ".join(as_text(answer_text).split()).strip(_DECORATION)
    if not text:
        return None

    # 1. The whole answer is an option's text.
    if opts:
        wanted = option_key(text)
        hits = [i for i, o in enumerate(opts) if o and o == wanted]
        if len(hits) == 1:
            return LETTERS[hits[0]]

    # 2. A letter, maybe followed by that letter's option text.
    match = _LETTER_RE.fullmatch(text)
    if not match:
        return None
    letter, rest = match["letter"].upper(), option_key(match["rest"])
    if not opts:
        # "B. Liver" and "(B) Liver" name B; "A bit unclear" is prose, not a letter.
        marked = match["open"] or match["close"] or match["punct"]
        return letter if not rest or marked else None
    index = LETTERS.find(letter)
    if index < 0 or index >= len(opts):
        return None
    if rest and rest != opts[index]:
        return None  # names another option, or something that is no option at all
    return letter


def accuracy_reward(solution_str: Any = "", ground_truth: Any = "", extra_info: Any = None, **_: Any) -> float:
    """1.0 if the last answer block names the same option as ``ground_truth`` (a letter or option text)."""
    options = options_of(extra_info)
    answer = extract_answer(solution_str)
    if answer is None:
        return 0.0
    predicted = normalize_choice(answer, options)
    expected = normalize_choice(ground_truth, options)
    return 1.0 if predicted is not None and predicted == expected else 0.0


def extract_think(text: str) -> str | None:
    """Content of the first complete ``<think> ... </think>`` block, or None."""
    start = text.find("<think>")
    end = text.find("</think>", start + 1) if start >= 0 else -1
    return text[start + len("<think>") : end] if end >= 0 else None


def concluded_option(reasoning: Any, options: Sequence[str] | None) -> str | None:
    """Letter of the option the reasoning names last (the longest one where names overlap), or None."""
    text, best, best_key = as_text(reasoning), None, None
    for i, option in enumerate(as_options(options)):
        words = option.split()
        if not words:
            continue
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
        for m in re.finditer(pattern, text, flags=re.IGNORECASE):
            key = (m.end(), m.end() - m.start())
            if best_key is None or key > best_key:
                best, best_key = LETTERS[i], key
    return best


def consistency_reward(solution_str: Any = "", ground_truth: Any = "", extra_info: Any = None, **_: Any) -> float:
    """1.0 if the answer is the option the ``<think>`` block concludes with (names last), else 0.0.

    Correctness is not looked at: this rewards answering what the reasoning found, so that the
    accuracy reward reaches the reasoning tokens that decide the answer (the idea of GRPO-CARE's
    consistency bonus, arXiv 2506.16141, as a rule instead of a reference model). A reasoning that
    names no option, or a missing or invalid answer, scores 0.0.
    """
    text = as_text(solution_str)
    reasoning, answer = extract_think(text), extract_answer(text)
    options = options_of(extra_info)
    if reasoning is None or answer is None or not options:
        return 0.0
    concluded = concluded_option(reasoning, options)
    return 1.0 if concluded is not None and concluded == normalize_choice(answer, options) else 0.0
