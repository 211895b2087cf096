"""GDQA variants: permutations and letters, re-rendered questions, SSG-VQA rewrites, selection, metrics."""

import functools
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from anatomy_r1_verl.gdqa import variants
from anatomy_r1_verl.gdqa.metrics import invalid_gradient_by_class, invalid_gradient_ratio
from anatomy_r1_verl.gdqa.rewrite import parse_ssg_question, rewrite_question
from anatomy_r1_verl.gdqa.variants import INSTRUCTION_WORDINGS, pick_variant
from anatomy_r1_verl.schema import DEFAULT_INSTRUCTION, LETTERS, SchemaError, make_row, row_meta
from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
from anatomy_r1_verl.synthetic.questions import execute, parse_question, phrasings
from data_prep.augment import main

# GDQA as `anatomy-r1 prepare augment` and the bench run it: synthetic rows re-phrased from their programs
make_variants = functools.partial(variants.make_variants, program_phrasings=phrasings)
augment_rows = functools.partial(variants.augment_rows, program_phrasings=phrasings)
augment_parquet = functools.partial(variants.augment_parquet, program_phrasings=phrasings)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    generate(SyntheticConfig(out_dir=str(out), train=16, val=4, test=4), progress=False)
    return str(out)


@pytest.fixture(scope="module")
def rows(bench):
    return pq.read_table(os.path.join(bench, "train.parquet")).to_pylist()


def ssg_row(question, answer="Liver", options=("Gut", "Liver", "Omentum", "Gallbladder"), **kw):
    return make_row(
        data_source="ssgvqa",
        question=question,
        options=options,
        answer=answer,
        image="/x/VID01/1.png",
        split="train",
        index=0,
        row_id=kw.pop("row_id", "VID01/1/3"),
        meta={"answer_class": answer},
        **kw,
    )


def check(variants, row):
    answer = row["extra_info"]["answer"]
    for v in variants:
        assert v["options"].count(answer) == 1
        assert v["options"][LETTERS.index(v["ground_truth"])] == answer
        assert sorted(v["options"]) == sorted(row["extra_info"]["options"])
        text = v["prompt"][0]["content"]
        assert text.startswith("<image>") and text.count("<image>") == 1
        assert v["question"] in text and v["instruction"] in text


# ---------------------------------------------------------------- make_variants


def test_synthetic_variants_are_distinct_valid_and_start_with_the_original(rows):
    for row in rows:
        vs = make_variants(row, k=4, seed=0)
        assert len(vs) == 4
        assert len({v["prompt"][0]["content"] for v in vs}) == 4
        assert vs[0]["prompt"] == row["prompt"] and vs[0]["ground_truth"] == row["reward_model"]["ground_truth"]
        assert vs[0]["options"] == row["extra_info"]["options"]
        check(vs, row)


def test_rerendered_questions_execute_to_the_same_answer(rows):
    for row in rows:
        meta = row_meta(row)
        program, scene = meta["program"], meta["scene"]
        vs = make_variants(row, k=4)
        templates = {v["template"] for v in vs}
        assert len(templates) == 3  # all three templates of the family
        assert {v["question"] for v in vs if v["template"] != program["template"]}  # re-rendered
        for v in vs:
            parsed = parse_question(v["question"])
            assert parsed["template"] == v["template"]
            assert execute(parsed, scene) == [row["extra_info"]["answer"]]


def test_options_are_permuted_and_letters_follow(rows):
    letters, orders = set(), set()
    for row in rows:
        for v in make_variants(row, k=4)[1:]:
            letters.add(v["ground_truth"])
            orders.add(tuple(v["options"]) != tuple(row["extra_info"]["options"]))
    assert len(letters) >= 3 and True in orders


def test_instruction_wording_varies(rows):
    assert len(INSTRUCTION_WORDINGS) >= 4 and INSTRUCTION_WORDINGS[0] == DEFAULT_INSTRUCTION
    assert all("<think>" in w and "<answer>" in w for w in INSTRUCTION_WORDINGS)
    vs = make_variants(rows[0], k=4)
    assert [v["instruction"] for v in vs] == list(INSTRUCTION_WORDINGS[:4])


def test_keep_instruction_varies_question_and_options_only(rows):
    out, stats = augment_rows(rows[:6], k=4, keep_instruction=True)
    assert stats["keep_instruction"] is True
    for row, new in zip(rows[:6], out):
        vs = json.loads(new["extra_info"]["variants"])
        assert len(vs) == 4 and {v["instruction"] for v in vs} == {row["extra_info"]["instruction"]}
        assert len({tuple(v["options"]) for v in vs}) > 1  # still permuted
        check(vs, row)
    assert stats["rephrased"] == 6


def test_variants_are_deterministic_per_seed(rows):
    assert make_variants(rows[0], seed=1) == make_variants(rows[0], seed=1)
    perms = {tuple(tuple(v["options"]) for v in make_variants(rows[0], seed=s)) for s in range(6)}
    assert len(perms) > 1


def test_prompt_keeps_other_messages_and_image_placement():
    row = ssg_row("What is the name of the anatomy to the left of the grasper?")
    body = row["prompt"][0]["content"][len("<image>") :]
    row["prompt"] = [
        {"role": "system", "content": "You are a surgeon."},
        {"role": "user", "content": body + "\n<image>"},
    ]
    for v in make_variants(row, k=4)[1:]:
        assert v["prompt"][0] == row["prompt"][0]
        assert v["prompt"][1]["content"].endswith("\n<image>") and v["prompt"][1]["content"].count("<image>") == 1


# ---------------------------------------------------------------- SSG-VQA rewrites


@pytest.mark.parametrize(
    "question, family, expect",
    [
        (
            "What anatomy is at the top-mid of the frame ?",
            "zero_hop",
            "Which anatomy occupies the top-mid of the image?",
        ),
        ("What is the anatomy at the top left?", "zero_hop", "What anatomy is at the top-left of the frame?"),
        (
            "What is the name of the anatomy to the left of the grasper?",
            "one_hop",
            "Which anatomy is to the left of the grasper?",
        ),
        (
            "What is the name of the anatomy located below the hook?",
            "one_hop",
            "There is an anatomy that is below the hook; what is its name?",
        ),
        (
            "There is a anatomy that is on the left side of the yellow omentum thing; what is it?",
            "one_hop",
            "What anatomy is on the left side of the yellow omentum thing?",
        ),
        (
            "There is a white object below the yellow omentum object; what is it?",
            "one_hop",
            "Which white object is below the yellow omentum object?",
        ),
        (
            "There is a anatomy that is within the white hook instrument and within the gallbladder object?; "
            "what name is it?",
            "single_and",
            "Which anatomy is within the white hook instrument and within the gallbladder object?",
        ),
    ],
)
def test_ssg_pattern_rewrites(question, family, expect):
    fam, alts = rewrite_question(question)
    assert fam == family
    texts = [t for _, t in alts]
    assert expect in texts and len(texts) >= 3 and len(set(texts)) == len(texts)
    assert question not in texts


@pytest.mark.parametrize(
    "question",
    [
        "Is there a liver?",
        "How many tools are there?",
        "What color is the anatomy above the hook?",
        "What is the color of the anatomy left of the grasper?",
        "Which organ is shown in this image?",
    ],
)
def test_non_anatomy_or_unknown_questions_are_not_rewritten(question):
    assert parse_ssg_question(question) is None and rewrite_question(question) == (None, [])


def test_ssg_row_variants_use_rewrites_and_unmatched_keeps_its_text():
    row = ssg_row("What is the name of the anatomy to the left of the grasper?")
    vs = make_variants(row, k=4)
    assert len(vs) == 4 and len({v["question"] for v in vs}) == 4
    assert vs[0]["template"] is None and all(isinstance(v["template"], int) for v in vs[1:])
    check(vs, row)
    other = ssg_row("Which organ is shown in this image?")
    vs = make_variants(other, k=4)
    assert len(vs) == 4 and {v["question"] for v in vs} == {"Which organ is shown in this image?"}
    assert len({v["prompt"][0]["content"] for v in vs}) == 4  # instruction and option order still vary
    check(vs, other)


def test_inconsistent_row_is_refused():
    row = ssg_row("What is the anatomy at the top left?")
    row["reward_model"]["ground_truth"] = "A"  # points at Gut, the answer is Liver
    with pytest.raises(SchemaError, match="VID01/1/3"):
        make_variants(row)


# ---------------------------------------------------------------- augment_rows


def _broken(row):
    """A synthetic row whose scene no longer gives its answer: it must not be varied."""
    row = json.loads(json.dumps(row))
    meta = row_meta(row)
    answer = row["extra_info"]["answer"]
    for o in meta["scene"]["objects"]:
        if o.get("class") == answer:
            o["class"] = "Nothing"
    row["extra_info"]["meta"] = json.dumps(meta)
    return row


def test_unvariable_question_is_counted_and_kept(rows):
    broken = _broken(rows[0])
    assert make_variants(broken, k=4) == make_variants(broken, k=1)
    out, stats = augment_rows([broken, rows[1]], k=4)
    assert len(out) == 2 and out[0]["extra_info"]["n_variants"] == 1
    assert json.loads(out[0]["extra_info"]["variants"])[0]["prompt"] == broken["prompt"]
    assert stats["unvariable"] == 1 and stats["varied"] == 1 and stats["selected"] == 2 and stats["rows"] == 2
    fam = row_meta(broken)["program"]["family"]
    assert stats["families"][fam]["unvariable"] >= 1


def test_augment_rows_all_rows_and_stats(rows):
    out, stats = augment_rows(rows, k=4)
    assert stats["rows"] == stats["selected"] == stats["varied"] == len(rows) and stats["unvariable"] == 0
    assert stats["variants"] == 4 * len(rows)
    assert sum(f["rows"] for f in stats["families"].values()) == len(rows)
    for src, row in zip(rows, out):
        assert row["extra_info"]["n_variants"] == 4
        check(json.loads(row["extra_info"]["variants"]), src)
        assert "variants" not in src["extra_info"]  # input untouched


def test_tau_selects_hard_rows_and_missing_score_is_a_clear_error(rows):
    scored = [{**r, "s_q": 0.2 if i % 2 else 0.8} for i, r in enumerate(rows[:6])]
    scored[0] = {**scored[0], "s_q": None, "extra_info": {**scored[0]["extra_info"], "s_q": 0.9}}  # extra_info
    out, stats = augment_rows(scored, k=4, tau=0.5)
    assert stats["selected"] == 3 and stats["varied"] == 3
    for src, row in zip(scored, out):
        ex = row["extra_info"]
        s_q = src["s_q"] if src["s_q"] is not None else src["extra_info"]["s_q"]
        assert ex["n_variants"] == (4 if s_q >= 0.5 else 1)
        if s_q < 0.5:
            assert row["prompt"] == src["prompt"]
            assert json.loads(ex["variants"])[0]["prompt"] == src["prompt"]
    with pytest.raises(SchemaError, match="anatomy-r1 prepare score"):
        augment_rows(rows[:3], tau=0.5)


# ---------------------------------------------------------------- parquet and CLI


def test_augment_parquet_round_trip(bench, tmp_path):
    src = os.path.join(bench, "train.parquet")
    before = open(src, "rb").read()
    out = tmp_path / "aug.parquet"
    stats = augment_parquet(src, out, k=3, tau=None, seed=0)
    assert open(src, "rb").read() == before
    aug = pq.read_table(out).to_pylist()
    orig = pq.read_table(src).to_pylist()
    assert len(aug) == len(orig) == stats["rows"]
    for a, o in zip(aug, orig):
        assert a["prompt"] == o["prompt"] and a["images"] == o["images"]
        vs = json.loads(a["extra_info"]["variants"])
        assert a["extra_info"]["n_variants"] == len(vs) == 3
        check(vs, o)
    with pytest.raises(ValueError, match="input"):
        augment_parquet(src, src)


def test_cli(bench, tmp_path, capsys):
    src = os.path.join(bench, "val.parquet")
    assert main([src, "--out", str(tmp_path / "v.parquet"), "--k", "2", "--seed", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["varied"] == 4
    assert main([src, "--out", str(tmp_path / "w.parquet"), "--tau", "0.5"]) == 1
    assert "prepare score" in capsys.readouterr().err
    r = subprocess.run([sys.executable, "-m", "data_prep.augment", "--help"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0 and "anatomy-r1 prepare augment" in r.stdout and "--tau" in r.stdout


# ---------------------------------------------------------------- trainer-side helpers


def test_pick_variant_cycles_with_session_id(rows):
    out, _ = augment_rows(rows[:1], k=4)
    ex = out[0]["extra_info"]
    vs = json.loads(ex["variants"])
    assert [pick_variant(ex, s) for s in range(8)] == vs + vs
    assert pick_variant({**ex, "variants": vs}, 5) == vs[1]  # an already decoded list works too
    assert pick_variant({"index": 0}, 3) is None and pick_variant(None, 0) is None


def test_invalid_gradient_ratio_overall_and_by_class():
    groups = {"u1": [1, 1, 1, 1], "u2": [0, 1, 0, 1], "u3": [0, 0, 0, 0], "u4": [0.5, 0.5 + 1e-9]}
    assert invalid_gradient_ratio({k: groups[k] for k in ("u1", "u2", "u3")}) == pytest.approx(2 / 3)
    assert invalid_gradient_ratio(groups) == pytest.approx(3 / 4)
    assert invalid_gradient_ratio({}) == 0.0
    classes = {"u1": "Liver", "u2": "Liver", "u3": "Gut", "u4": "Omentum"}
    assert invalid_gradient_by_class(groups, classes) == {"Gut": 1.0, "Liver": 0.5, "Omentum": 1.0}
    assert invalid_gradient_by_class({"u9": [0, 1]}, {}) == {"unknown": 0.0}


def test_without_programs_gdqa_rewrites_the_question_text(bench):
    """GDQA knows no scene: without ``program_phrasings`` a synthetic row is rewritten from its text by the SSG-VQA
    patterns, into the grammar's phrasings (zero-hop questions are SSG-VQA's own)."""
    from anatomy_r1_verl.grammar import SSG_TEMPLATES

    rows = pq.read_table(os.path.join(bench, "train.parquet")).to_pylist()
    row = next(r for r in rows if row_meta(r)["program"]["family"] == "zero_hop")
    texts = {v["question"] for v in variants.make_variants(row, k=4)}
    pos = row_meta(row)["program"]["pos"]
    from anatomy_r1_verl.grammar import POS_PHRASE

    assert len(texts) > 1 and texts <= {t.format(pos=POS_PHRASE[pos]) for t in SSG_TEMPLATES["zero_hop"]}
