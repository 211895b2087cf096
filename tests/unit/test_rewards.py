"""Unit tests of the pluggable rewards in reward_fns/."""

from __future__ import annotations

import logging
import math
import random
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anatomy_r1_verl.schema import GDQA_GROUND_TRUTH, GDQA_OPTIONS
from reward_fns import (
    accuracy_reward,
    compute_score,
    consistency_reward,
    extract_answer,
    format_reward,
    normalize_choice,
    registry,
)

OPTIONS = ["Liver", "Gallbladder", "Gut", "Omentum"]
ANATOMY = ["Liver", "Gallbladder", "Cystic Plate", "Gut", "Omentum", "Abdominal Wall Cavity"]
EXTRA = {"options": OPTIONS, "answer": "Gallbladder"}
KEYS = {"score", "acc", "format", "errors"}
WKEY = "reward.custom_reward_function.reward_kwargs.weights"


def completion(answer: str, think: str = "the fundus is pear shaped") -> str:
    return f"<think>{think}</think> <answer>{answer}</answer>"


# --------------------------------------------------------------------------- normalize_choice


@pytest.mark.parametrize(
    "text",
    [
        "B",
        "B.",
        "(B)",
        "B)",
        "[B]",
        "b",
        "b.",
        " B ",
        "B. Gallbladder",
        "B: Gallbladder",
        "B) Gallbladder",
        "(B) Gallbladder",
        "B Gallbladder",
        "b. gallbladder",
        "B. Gallbladder.",
        "Option B",
        "option b",
        "Choice B",
        "Answer: B",
        "Gallbladder",
        "gallbladder",
        "  GALLBLADDER  ",
        "Gallbladder.",
        "**B**",
        "`B`",
        "'B'",
    ],
)
def test_accepted_forms_name_b(text):
    assert normalize_choice(text, OPTIONS) == "B"


@pytest.mark.parametrize(
    "text,letter",
    [
        ("Cystic plate", "C"),
        ("cystic   PLATE", "C"),
        ("Cystic\nPlate", "C"),
        ("C. Cystic Plate", "C"),
        ("abdominal wall cavity", "F"),
        ("F", "F"),
        ("Liver", "A"),
        ("a", "A"),
        ("A. Liver", "A"),
    ],
)
def test_option_text_and_letters_six_options(text, letter):
    assert normalize_choice(text, ANATOMY) == letter


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "B. Liver",
        "B: Gut",
        "(B) Omentum",
        "A. Gallbladder",
        "E",
        "Z",
        "(E)",
        "Option E",
        "Liverr",
        "Gall bladder x",
        "A/B",
        "A or B",
        "A, B",
        "AB",
        "B. Gallbladder or Liver",
        "I think it is B",
        "a bit unclear",
        "The answer is B",
        "Option",
        "gallbladder liver",
        "1",
        "2.",
        "Ｂ",
        "\u212a",
    ],
)
def test_rejected_forms(text):
    assert normalize_choice(text, OPTIONS) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("B", "B"),
        ("(b)", "B"),
        ("B.", "B"),
        ("B. Liver", "B"),
        ("Option B", "B"),
        ("H", "H"),
        ("Gallbladder", None),
        ("liver", None),
        ("a bit unclear", None),
        ("", None),
    ],
)
def test_without_options_only_letter_forms_count(text, expected):
    assert normalize_choice(text, None) == expected
    assert normalize_choice(text, []) == expected


def test_options_in_odd_containers():
    np = pytest.importorskip("numpy")
    assert normalize_choice("gut", np.array(OPTIONS, dtype=object)) == "C"
    assert normalize_choice("gut", tuple(OPTIONS)) == "C"
    assert normalize_choice("Gut", ["A. Liver", "B. Gallbladder", "C. Gut", "D. Omentum"]) == "C"
    assert normalize_choice("B", "not a list") == "B"  # a bare string is not an option list
    assert normalize_choice("B", 42) == "B"


# --------------------------------------------------------------------------- extract / format


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<answer>B</answer>", "B"),
        ("<think>x</think><answer>  B \n</answer>", "B"),
        ("<answer>A</answer> then <answer>C</answer>", "C"),
        ("<answer>A</answer> <answer>C", "A"),
        ("<answer></answer>", ""),
        ("no tags", None),
        ("<answer>B", None),
        ("B</answer>", None),
        ("</answer><answer>", None),
        ("", None),
        (None, None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "<think>x</think><answer>B</answer>",
        "<think>x</think> <answer>B</answer>",
        "  \n<think>\nmulti\nline\n</think>\n\n<answer> B </answer>\n ",
        "<think></think><answer>B</answer>",
        "<think>x</think><answer>B</answer><|im_end|>",
        "<think>x</think><answer>B</answer>\n<|im_end|>\n",
        "<think>x</think><answer>B</answer><|endoftext|>",
        "<think>x</think><answer>B</answer><|im_end|><|endoftext|>",
        "<think>x</think><answer>B. Gallbladder</answer>",
        "<think>思考 🫀</think><answer>B</answer>",
    ],
)
def test_format_accepts(text):
    assert format_reward(text) == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "B",
        "<answer>B</answer>",
        "<think>x</think>",
        "<think>x</think><answer></answer>",
        "<think>x</think><answer>   </answer>",
        "<answer>B</answer><think>x</think>",
        "preamble <think>x</think><answer>B</answer>",
        "<think>x</think>middle<answer>B</answer>",
        "<think>x</think><answer>B</answer> trailing",
        "<think>x</think><answer>B</answer><|im_end|> more",
        "<think>x</think><answer>B</answer><answer>C</answer>",
        "<think>a</think><think>b</think><answer>B</answer>",
        "<think>x<answer>B</answer></think>",
        "<think>x</think><answer>B",
        "<think>x<answer>B</answer>",
        "<THINK>x</THINK><ANSWER>B</ANSWER>",
        "<think>x</think><answer>B</answer></answer>",
        None,
    ],
)
def test_format_rejects(text):
    assert format_reward(text) == 0.0


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("ground_truth", ["B", " b ", "(B)", "B.", "Gallbladder", "gallbladder"])
def test_accuracy_ground_truth_forms(ground_truth):
    assert accuracy_reward(completion("B"), ground_truth, EXTRA) == 1.0
    assert accuracy_reward(completion("gallbladder"), ground_truth, EXTRA) == 1.0
    assert accuracy_reward(completion("C"), ground_truth, EXTRA) == 0.0


def test_accuracy_cases():
    assert accuracy_reward(completion("B. Liver"), "B", EXTRA) == 0.0  # ambiguous
    assert accuracy_reward("B", "B", EXTRA) == 0.0  # no answer block
    assert accuracy_reward(completion("A") + " <answer>B</answer>", "B", EXTRA) == 1.0  # last block counts
    assert accuracy_reward(completion("B"), "B", None) == 1.0
    assert accuracy_reward(completion("Gallbladder"), "B", None) == 0.0  # no options: letters only
    assert accuracy_reward(completion("Gallbladder"), "Gallbladder", None) == 0.0
    assert accuracy_reward(completion("B"), "", EXTRA) == 0.0
    assert accuracy_reward(completion(""), "B", EXTRA) == 0.0
    assert accuracy_reward(completion("B"), None, EXTRA) == 0.0
    assert accuracy_reward(completion("B"), "B", {"answer": "Gallbladder"}) == 1.0
    assert accuracy_reward(completion("B"), "B", "not a dict") == 1.0


# --------------------------------------------------------------------------- compute_score


def test_default_weights():
    out = compute_score("ssg", completion("B"), "B", EXTRA)
    assert out == {"score": 1.5, "acc": 1.0, "format": 1.0, "errors": 0.0}
    assert set(out) == KEYS and all(type(v) is float for v in out.values())
    assert compute_score("ssg", completion("C"), "B", EXTRA) == {"score": 0.5, "acc": 0.0, "format": 1.0, "errors": 0.0}
    assert compute_score("ssg", "<answer>B</answer>", "B", EXTRA) == {
        "score": 1.0,
        "acc": 1.0,
        "format": 0.0,
        "errors": 0.0,
    }
    assert compute_score("ssg", "", "B", EXTRA) == {"score": 0.0, "acc": 0.0, "format": 0.0, "errors": 0.0}


def test_custom_weights_merge_over_defaults():
    assert compute_score("d", completion("B"), "B", EXTRA, weights={"accuracy": 2, "format": 0.25})["score"] == 2.25
    assert compute_score("d", completion("C"), "B", EXTRA, weights={"format": 0})["score"] == 0.0
    assert compute_score("d", completion("B"), "B", EXTRA, weights={"format": 0})["score"] == 1.0
    out = compute_score("d", completion("C"), "B", EXTRA, weights={"accuracy": 0})
    assert out == {"score": 0.5, "acc": 0.0, "format": 1.0, "errors": 0.0}
    assert compute_score("d", completion("B"), "B", EXTRA, weights={"format": "0.5"})["score"] == 1.5
    assert compute_score("d", completion("B"), "B", EXTRA, weights={})["score"] == 1.5


def test_weights_as_dictconfig():
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create({"weights": {"accuracy": 1, "format": 0.1}})
    out = compute_score("d", completion("B"), "B", EXTRA, weights=cfg.weights)
    assert out["score"] == pytest.approx(1.1) and set(out) == KEYS


def test_extra_kwargs_from_verl_are_ignored():
    out = compute_score(
        data_source="d",
        solution_str=completion("B"),
        ground_truth="B",
        extra_info=EXTRA,
        reward_router_address=None,
        reward_model_tokenizer=None,
    )
    assert out["score"] == 1.5


def test_component_by_module_path(tmp_path, monkeypatch):
    (tmp_path / "my_reward_mod_a.py").write_text(
        textwrap.dedent("""
        def brevity(solution_str, ground_truth, extra_info, data_source):
            return 1.0 if len(solution_str) < 60 else 0.0
        def seen(**kw):
            return float(sorted(kw) == ["data_source", "extra_info", "ground_truth", "solution_str"])
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    weights = {"my_reward_mod_a:brevity": 0.5, "my_reward_mod_a:seen": 1.0}
    out = compute_score("d", completion("B", think="x"), "B", EXTRA, weights=weights)
    assert set(out) == KEYS | set(weights)
    assert out["my_reward_mod_a:brevity"] == 1.0 and out["my_reward_mod_a:seen"] == 1.0
    assert out["score"] == 1.5 + 0.5 + 1.0
    # a built-in function by module path works too
    out = compute_score("d", completion("B"), "B", EXTRA, weights={"reward_fns.mcq:format_reward": 2})
    assert out["reward_fns.mcq:format_reward"] == 1.0 and out["score"] == 3.5


def test_component_by_file_path(tmp_path):
    path = tmp_path / "my_file_reward.py"
    path.write_text(
        textwrap.dedent("""
        from dataclasses import dataclass
        @dataclass
        class Cfg:
            bonus: float = 0.25
        CALLS = []
        def bonus(solution_str, ground_truth, **_):
            CALLS.append(1)
            return Cfg().bonus if "<answer>" in solution_str else False
    """)
    )
    name = f"{path}:bonus"
    out = compute_score("d", completion("B"), "B", EXTRA, weights={name: 2.0})
    assert out[name] == 0.25 and out["score"] == 2.0
    assert compute_score("d", "nothing", "B", EXTRA, weights={name: 2.0})[name] == 0.0  # False -> 0.0
    # loaded once and cached: both calls hit the same module
    assert sum(len(m.CALLS) for p, m in registry._file_modules.items() if p == str(path)) == 2
    assert compute_score("d", completion("B"), "B", EXTRA, weights={f"file://{name}": 1.0})[f"file://{name}"] == 0.25


def test_failing_component_scores_zero_and_warns_once(tmp_path, caplog):
    path = tmp_path / "flaky_reward.py"
    path.write_text(
        textwrap.dedent("""
        def boom(**_):
            raise RuntimeError("kaboom")
        def text(**_):
            return "1.0"
        def nan(**_):
            return float("nan")
    """)
    )
    weights = {f"{path}:boom": 1.0, f"{path}:text": 1.0, f"{path}:nan": 1.0}
    before = {n: registry.ERROR_COUNTS[n] for n in weights}
    with caplog.at_level(logging.WARNING, logger="reward_fns.registry"):
        for _ in range(3):
            out = compute_score("d", completion("B"), "B", EXTRA, weights=weights)
            assert out["score"] == 1.5 and all(out[n] == 0.0 for n in weights)
            assert out["errors"] == 3.0  # per completion: logged by the trainer as reward/errors
    for n in weights:
        assert registry.ERROR_COUNTS[n] - before[n] == 3
        assert sum(n in r.getMessage() for r in caplog.records) == 1
    assert "kaboom" in caplog.text


@pytest.mark.parametrize(
    "weights,name,needle",
    [
        ({"accuracyy": 1.0}, "accuracyy", "unknown reward component"),
        ({"no_such_module_xyz:fn": 1.0}, "no_such_module_xyz:fn", "cannot import"),
        ({"reward_fns.mcq:no_such_fn": 1.0}, "reward_fns.mcq:no_such_fn", "no function"),
        ({"reward_fns.mcq:LETTERS": 1.0}, "reward_fns.mcq:LETTERS", "no function"),
        ({"/no/such/file.py:fn": 1.0}, "/no/such/file.py:fn", "does not exist"),
        ({"format": -0.5}, "format", "negative"),
        ({"format": "lots"}, "format", "not a number"),
        ({"format": None}, "format", "not a number"),
        ({"format": True}, "format", "not a number"),
        ({"format": float("inf")}, "format", "not finite"),
        ({"accuracy": [1]}, "accuracy", "not a number"),
    ],
)
def test_config_errors_name_the_key(weights, name, needle):
    with pytest.raises(ValueError) as err:
        compute_score("d", completion("B"), "B", EXTRA, weights=weights)
    assert f"{WKEY}.{name}" in str(err.value) and needle in str(err.value)


def test_config_error_bad_file_and_bad_mapping(tmp_path):
    broken = tmp_path / "broken_reward.py"
    broken.write_text("raise ImportError('missing dep')\n")
    with pytest.raises(ValueError, match=f"{WKEY}.*broken_reward.py:fn.*missing dep"):
        compute_score("d", "", "B", None, weights={f"{broken}:fn": 1})
    async_file = tmp_path / "async_reward.py"
    async_file.write_text("async def fn(**_):\n    return 1.0\n")
    with pytest.raises(ValueError, match="async"):
        compute_score("d", "", "B", None, weights={f"{async_file}:fn": 1})
    with pytest.raises(ValueError, match=f"{WKEY}: expected a mapping"):
        compute_score("d", "", "B", None, weights=[("format", 1)])


def test_verl_loads_it_with_reward_kwargs():
    reward = pytest.importorskip("verl.trainer.ppo.reward")
    omegaconf = pytest.importorskip("omegaconf")
    import reward_fns.combine

    for path in ("pkg://reward_fns.combine", reward_fns.combine.__file__):
        cfg = omegaconf.OmegaConf.create(
            {
                "reward": {
                    "custom_reward_function": {
                        "path": path,
                        "name": "compute_score",
                        "reward_kwargs": {"weights": {"format": 0.25}},
                    }
                }
            }
        )
        fn = reward.get_custom_reward_fn(cfg)
        out = fn(data_source="d", solution_str=completion("B"), ground_truth="B", extra_info=dict(EXTRA))
        assert out == {"score": 1.25, "acc": 1.0, "format": 1.0, "errors": 0.0}


# --------------------------------------------------------------------------- never raises

FRAGMENTS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<|im_end|>",
    "<|endoftext|>",
    "B",
    "b",
    "(B)",
    "B.",
    "Option ",
    "Gallbladder",
    "liver",
    " ",
    "\n",
    "\t",
    ".",
    ":",
    ")",
    "(",
    "[",
    "]",
    "*",
    "E",
    "🫀",
    "肝",
    "\u212a",
    "\u017f",
    "\x00",
    "\u200b",
    "\u00a0",
    "Ｂ",
    "<",
    ">",
    "/",
    "answer",
    "think",
]
ODD_EXTRAS = [
    EXTRA,
    None,
    {},
    {"options": None},
    {"options": "A. x"},
    {"options": [None, 3, "B"]},
    {"options": ["", " ", "."]},
    "junk",
    {"options": OPTIONS * 10},
]


def check_result(out, low=0.0, high=1.5):
    assert set(out) == KEYS
    assert all(type(v) is float and math.isfinite(v) for v in out.values())
    assert out["acc"] in (0.0, 1.0) and out["format"] in (0.0, 1.0)
    assert low <= out["score"] <= high
    assert out["score"] == out["acc"] + 0.5 * out["format"]


@settings(max_examples=300, deadline=None)
@given(
    solution=st.one_of(
        st.text(), st.lists(st.sampled_from(FRAGMENTS)).map("".join), st.none(), st.integers(), st.binary()
    ),
    ground_truth=st.one_of(st.sampled_from(["B", " b ", "(B)", "Gallbladder", "", "Z"]), st.text(), st.none()),
    extra=st.sampled_from(ODD_EXTRAS),
)
def test_hypothesis_never_raises(solution, ground_truth, extra):
    check_result(compute_score("d", solution, ground_truth, extra))
    assert normalize_choice(solution, OPTIONS) in (None, "A", "B", "C", "D")


def test_random_fuzz_never_raises():
    rng = random.Random(1234)
    for _ in range(2000):
        solution = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 40)))
        ground_truth = rng.choice(["B", "b", "(B)", "Gallbladder", "", "Q", None, 7])
        extra = rng.choice(ODD_EXTRAS)
        check_result(compute_score("d", solution, ground_truth, extra))


def test_huge_and_pathological_inputs_are_fast():
    import time

    start = time.perf_counter()
    for solution in [
        " " * 1_000_000,
        "<think>" * 200_000,
        "<answer>" + "B " * 300_000 + "</answer>",
        "<think>" + "x" * 1_000_000 + "</think><answer>B</answer>",
        "\n" * 500_000 + "<|im_end|>",
        "<answer>(" + "\t" * 200_000 + "B</answer>",
    ]:
        check_result(compute_score("d", solution, "B", EXTRA))
    assert time.perf_counter() - start < 5.0


def test_components_give_file_functions_plain_names(tmp_path):
    from reward_fns import compute_score

    f = tmp_path / "bonus.py"
    f.write_text("def brevity(solution_str, **_):\n    return 0.25\n")
    out = compute_score(
        "ds",
        "<think>x</think><answer>A</answer>",
        "A",
        {"options": ["Liver", "Gut"]},
        weights={"brevity": 2.0},
        components={"brevity": f"{f}:brevity"},
    )
    assert out["brevity"] == 0.25
    assert out["score"] == pytest.approx(1.0 + 0.5 + 2.0 * 0.25)


def test_components_config_errors_name_the_key(tmp_path):
    from reward_fns import compute_score

    with pytest.raises(ValueError, match=r"reward_kwargs\.components\.brevity"):
        compute_score("ds", "x", "A", None, weights={"brevity": 1.0}, components={"brevity": f"{tmp_path}/no.py:f"})
    with pytest.raises(ValueError, match=r"reward_kwargs\.components"):
        compute_score("ds", "x", "A", None, weights={"brevity": 1.0}, components=["not", "a", "mapping"])


def test_gdqa_rollout_is_scored_against_its_own_variant():
    import json

    from reward_fns import compute_score

    row_extra = {"options": ["Liver", "Gut", "Omentum", "Gallbladder"], "answer": "Gut"}  # row letter: B
    variant = {
        **row_extra,
        GDQA_GROUND_TRUTH: "D",
        GDQA_OPTIONS: json.dumps(["Liver", "Omentum", "Gallbladder", "Gut"]),
    }
    says_d = "<think>x</think><answer>D</answer>"
    assert compute_score("ds", says_d, "B", row_extra)["acc"] == 0.0
    assert compute_score("ds", says_d, "B", variant)["acc"] == 1.0
    assert compute_score("ds", "<think>x</think><answer>Gut</answer>", "B", variant)["acc"] == 1.0


# --------------------------------------------------------------------------- consistency_reward


@pytest.mark.parametrize(
    "think, answer, expected",
    [
        ("The top-left is Gallbladder.", "B", 1.0),  # concludes with B's option
        ("The top-left is Gallbladder.", "C", 0.0),  # answers another option than it found
        ("The top-left is gallbladder .", "B", 1.0),  # case and spacing of the name do not matter
        ("Liver or Gut? It is Gut.", "C", 1.0),  # the option named last is the conclusion
        ("Liver or Gut? It is Gut.", "A", 0.0),
        ("It is Gallbladder.", "Gallbladder", 1.0),  # the answer as the option's text
        ("It is Cystic Plate.", "A", 0.0),  # names no option of this question
        ("Nothing to see here.", "A", 0.0),
        ("The Liverish region.", "A", 0.0),  # a name inside a longer word is no mention
    ],
)
def test_consistency_reward(think, answer, expected):
    assert consistency_reward(completion(answer, think), "", EXTRA) == expected


def test_consistency_ignores_correctness_and_needs_both_blocks():
    # right or wrong against the ground truth, a consistent answer scores 1.0
    assert consistency_reward(completion("A", "It is Liver."), "B", EXTRA) == 1.0
    assert consistency_reward("<answer>B</answer>", "B", EXTRA) == 0.0  # no think block
    assert consistency_reward("<think>It is Gallbladder.</think>", "B", EXTRA) == 0.0  # no answer block
    assert consistency_reward(completion("B", "It is Gallbladder."), "B", {}) == 0.0  # options unknown


def test_consistency_longest_name_wins_where_names_overlap():
    extra = {"options": ["Plate", "Cystic Plate", "Gut", "Liver"]}
    assert consistency_reward(completion("B", "It is Cystic Plate."), "", extra) == 1.0
    assert consistency_reward(completion("A", "It is Cystic Plate."), "", extra) == 0.0


def test_consistency_as_a_weighted_component():
    out = compute_score("d", completion("C", "It is Gut."), "B", EXTRA, weights={"consistency": 0.5})
    assert out == {"score": 0.5 + 0.5, "acc": 0.0, "format": 1.0, "consistency": 1.0, "errors": 0.0}


def test_consistency_never_raises():
    rng = random.Random(99)
    for _ in range(1000):
        solution = "".join(
            rng.choice(FRAGMENTS + ["Liver", " Gut ", "Cystic  Plate"]) for _ in range(rng.randint(0, 30))
        )
        assert consistency_reward(solution, "B", rng.choice(ODD_EXTRAS)) in (0.0, 1.0)
