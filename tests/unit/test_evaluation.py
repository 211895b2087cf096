"""`anatomy-r1 eval`: Wilson intervals, the tiny model on synthetic rows (counts per class equal a count made
from responses.jsonl), re-scoring without generating, sampling (mean@K / pass@K), and clear errors on bad input."""

import json
from collections import Counter

import pandas as pd
import pytest

from anatomy_r1_verl.evaluation.inputs import EvalInputError, check_parquet, resolve_model
from anatomy_r1_verl.evaluation.intervals import wilson
from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path


@pytest.mark.parametrize(
    "k,n,lo,hi",
    [
        (5, 10, 0.236593, 0.763407),  # symmetric case
        (0, 10, 0.0, 0.277533),  # Wilson's upper bound for 0/10 (the Wald interval would be [0, 0])
        (10, 10, 0.722467, 1.0),
        (1, 20, 0.008881, 0.236131),  # R: prop.test(1, 20, correct = FALSE)$conf.int
        (81, 263, 0.255289, 0.366210),  # the closed form (k + z²/2 ± z·sqrt(k(n-k)/n + z²/4)) / (n + z²)
    ],
)
def test_wilson_known_values(k, n, lo, hi):
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=2e-6)


def test_wilson_edges():
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(3, 2)
    lo, hi = wilson(2.5, 10)  # a sum of mean@K rates may be fractional
    assert 0 < lo < 0.25 < hi < 1


def test_wilson_is_scipys_for_whole_counts():
    from scipy.stats import binomtest

    for k, n in ((0, 7), (3, 7), (437, 1000), (1000, 1000)):
        ci = binomtest(k, n).proportion_ci(method="wilson")
        assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

    out = tmp_path_factory.mktemp("syn")
    generate(SyntheticConfig(out_dir=str(out), seed=3, train=4, val=4, test=12), progress=False)
    return out


@pytest.fixture(scope="module")
def greedy(data, tmp_path_factory):
    from anatomy_r1_verl.commands.evaluate import main

    out = tmp_path_factory.mktemp("eval")
    assert (
        main(
            [
                asset_path(DEFAULT_MODEL),
                str(data / "test.parquet"),
                "--out",
                str(out),
                "--no-progress",
                "--method",
                "tiny",
                "--batch-size",
                "12",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    return out


def test_eval_counts_per_class_equal_the_responses_jsonl(greedy, data):
    metrics = json.loads((greedy / "metrics.json").read_text())
    recs = [json.loads(line) for line in (greedy / "responses.jsonl").read_text().splitlines()]
    assert len(recs) == 12 and metrics["method"] == "tiny" and metrics["samples"] == 1
    rows = pd.read_parquet(data / "test.parquet")
    # every row answered once, its class the row's correct option
    assert [r["answer_class"] for r in recs] == [e["answer"] for e in rows["extra_info"]]
    bench = metrics["benchmarks"]["synthetic_scene"]
    for breakdown in ("answer_class", "question_type"):
        n = Counter(r[breakdown] for r in recs)
        right = Counter(r[breakdown] for r in recs if r["acc"] == 1.0)
        got = bench["by"][breakdown]
        assert {g: s["n"] for g, s in got.items()} == dict(n)
        for g, s in got.items():
            assert round(s["acc"]["value"] * s["n"]) == right[g]
            assert (s["acc"]["lo"], s["acc"]["hi"]) == pytest.approx(wilson(right[g], n[g]), abs=1e-6)
    assert bench["overall"]["acc"]["value"] == pytest.approx(sum(r["acc"] for r in recs) / 12, abs=1e-6)
    # the warm-started model answers in format, and its score is the training reward's
    assert bench["overall"]["format"]["value"] >= 0.9
    assert all(r["score"] == pytest.approx(r["acc"] + 0.5 * r["format"]) for r in recs)
    csv = pd.read_csv(greedy / "metrics.csv")
    overall = csv[(csv.breakdown == "overall") & (csv.metric == "acc")].iloc[0]
    assert overall.value == pytest.approx(bench["overall"]["acc"]["value"]) and overall.n == 12


def test_rescore_reproduces_the_metrics_without_a_model(greedy, tmp_path):
    import shutil

    from anatomy_r1_verl.commands.evaluate import main

    copy = tmp_path / "copy"
    shutil.copytree(greedy, copy)
    before = json.loads((copy / "metrics.json").read_text())
    # corrupt the stored scores: re-scoring must recompute them from the response texts
    lines = [
        dict(json.loads(line), acc=0.0, format=0.0) for line in (copy / "responses.jsonl").read_text().splitlines()
    ]
    (copy / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert main(["--rescore", str(copy)]) == 0
    after = json.loads((copy / "metrics.json").read_text())
    assert after["benchmarks"] == before["benchmarks"] and after["rescored"] is True


def test_sampling_gives_mean_and_pass_at_k(data, tmp_path):
    from anatomy_r1_verl.commands.evaluate import main

    assert (
        main(
            [
                asset_path(DEFAULT_MODEL),
                str(data / "val.parquet"),
                "--out",
                str(tmp_path),
                "--no-progress",
                "--samples",
                "3",
                "--temperature",
                "1.0",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    recs = [json.loads(line) for line in (tmp_path / "responses.jsonl").read_text().splitlines()]
    assert len(recs) == 12 and sorted(Counter(r["row"] for r in recs).values()) == [3] * 4
    o = json.loads((tmp_path / "metrics.json").read_text())["benchmarks"]["synthetic_scene"]["overall"]
    by_row = {}
    for r in recs:
        by_row.setdefault(r["row"], []).append(r["acc"])
    assert o["acc"]["value"] == pytest.approx(sum(sum(v) / 3 for v in by_row.values()) / 4, abs=1e-6)
    assert o["pass@3"]["value"] == pytest.approx(sum(max(v) for v in by_row.values()) / 4)
    assert o["pass@3"]["value"] >= o["acc"]["value"]


def test_greedy_with_k_samples_is_refused(data, tmp_path, capsys):
    from anatomy_r1_verl.commands.evaluate import main

    assert main([asset_path(DEFAULT_MODEL), str(data / "val.parquet"), "--out", str(tmp_path), "--samples", "2"]) == 2
    assert "--temperature" in capsys.readouterr().err


def test_bad_inputs_name_the_file_and_the_fix(data, tmp_path):
    with pytest.raises(EvalInputError, match=rf"{tmp_path}.*neither a Hugging Face model directory"):
        resolve_model(tmp_path, tmp_path / "merged")
    with pytest.raises(EvalInputError, match="no such model"):
        resolve_model(tmp_path / "nope", tmp_path / "merged")
    rows = pd.read_parquet(data / "val.parquet")
    other = tmp_path / "other.parquet"
    rows[["prompt", "extra_info"]].to_parquet(other)
    with pytest.raises(EvalInputError, match=r"other.parquet: not in the project's row format .*anatomy-r1 prepare"):
        check_parquet(other)
    rows["images"] = [[{"image": str(tmp_path / "gone.png"), "bytes": None}]] * len(rows)
    moved = tmp_path / "moved.parquet"
    rows.to_parquet(moved)
    with pytest.raises(EvalInputError, match=r"moved.parquet: row synthetic_scene-val.*gone.png.*does not exist"):
        check_parquet(moved)
    text = tmp_path / "x.parquet"
    text.write_text("a,b\n")
    with pytest.raises(EvalInputError, match="x.parquet: not a readable parquet"):
        check_parquet(text)
    assert check_parquet(data / "val.parquet") == 4


def test_sft_rows_keep_the_row_and_drop_think(data, tmp_path):
    from data_prep.sft import convert

    out = tmp_path / "sft.parquet"
    assert convert(str(data / "val.parquet"), str(out)) == 4
    src, sft = pd.read_parquet(data / "val.parquet"), pd.read_parquet(out)
    for (_, a), (_, b) in zip(src.iterrows(), sft.iterrows()):
        letter = a["reward_model"]["ground_truth"]
        user, assistant = b["messages"]
        assert user["content"] == b["prompt"][0]["content"] and user["content"].startswith("<image>")
        assert "<think>" not in user["content"] and assistant["content"] == f"<answer>{letter}</answer>"
        assert b["extra_info"]["id"] == a["extra_info"]["id"] and list(b["images"]) == list(a["images"])
    check_parquet(out)  # an SFT split is also an eval split


def test_sft_think_target_is_the_scene_up_to_the_answer_and_scores_right(data, tmp_path):
    """--target scan / think: the RL prompt unchanged, a think block the generator knows (the cells in reading
    order up to the answer's / the answer's cell), the letter; the training reward gives it full accuracy and
    format."""
    from data_prep.sft import convert
    from reward_fns import compute_score

    out = tmp_path / "sft_scan.parquet"
    assert convert(str(data / "test.parquet"), str(out), target="scan", examples=5) == 5
    src, sft = pd.read_parquet(data / "test.parquet").head(5), pd.read_parquet(out)
    for (_, a), (_, b) in zip(src.iterrows(), sft.iterrows()):
        user, assistant = b["messages"]
        assert user["content"] == a["prompt"][0]["content"] and "<think>" in user["content"]
        reply = assistant["content"]
        assert reply.startswith("<think>The top-left is ") and reply.endswith(
            f"<answer>{a['reward_model']['ground_truth']}</answer>"
        )
        got = compute_score(b["data_source"], reply, a["reward_model"]["ground_truth"], dict(a["extra_info"]))
        assert got["acc"] == 1.0 and got["format"] == 1.0, (reply, got)
    convert(str(data / "test.parquet"), str(tmp_path / "g.parquet"), target="think", examples=5)
    for reply in (m[1]["content"] for m in pd.read_parquet(tmp_path / "g.parquet")["messages"]):
        assert reply.count(" is ") == 1  # the answer's cell alone: "<think>The bottom-left is Liver.</think>..."
    with pytest.raises(Exception, match="--examples 99: the file has 12 rows"):
        convert(str(data / "test.parquet"), str(tmp_path / "x.parquet"), examples=99)


def _run_checkpoint(tmp_path, config: dict):
    """The layout of an `anatomy-r1 train` run: runs/<exp>/config.yaml and checkpoints/global_step_N/actor."""
    from omegaconf import OmegaConf

    run = tmp_path / "runs" / "exp"
    actor = run / "checkpoints" / "global_step_2" / "actor"
    (actor / "huggingface").mkdir(parents=True)
    (actor / "model_world_size_1_rank_0.pt").write_bytes(b"")
    OmegaConf.save(OmegaConf.create(config), run / "config.yaml")
    return str(actor.parent)


def test_eval_of_a_checkpoint_takes_the_runs_validation_settings(tmp_path):
    from anatomy_r1_verl.evaluation.evaluate import generation_settings, run_val_subset

    rollout = {"response_length": 128, "val_kwargs": {"temperature": 0, "top_p": 1.0, "n": 1}}
    data = {"val_files": [str(tmp_path / "val.parquet")], "val_max_samples": 32, "shuffle": True, "seed": 42}
    ckpt = _run_checkpoint(tmp_path, {"actor_rollout_ref": {"rollout": rollout}, "data": data})
    unset = dict(samples=None, temperature=None, top_p=None, max_new_tokens=None, batch_size=8)
    cfg, notes = generation_settings(ckpt, unset)
    assert (cfg.max_new_tokens, cfg.temperature, cfg.samples, cfg.batch_size) == (128, 0.0, 1, 8)
    assert any("max_new_tokens=128 (the run's actor_rollout_ref.rollout.response_length)" in n for n in notes)
    cfg, notes = generation_settings(ckpt, {**unset, "max_new_tokens": 64})
    assert cfg.max_new_tokens == 64
    assert any("overrides the run's actor_rollout_ref.rollout.response_length=128" in n for n in notes)
    subset = run_val_subset(ckpt)
    assert subset["max_samples"] == 32 and subset["shuffle"] and subset["seed"] == 42
    assert subset["files"] == {str(tmp_path / "val.parquet")}
    # an HF model directory (no run) keeps the built-in defaults
    cfg, notes = generation_settings(str(tmp_path), unset)
    assert (cfg.max_new_tokens, cfg.temperature, notes) == (64, 0.0, [])
    assert run_val_subset(str(tmp_path)) is None


def test_verls_val_subset_is_what_eval_scores(data):
    """data.val_max_samples=N under data.shuffle draws N random rows (verl's RLHFDataset); --limit N the first N."""
    import numpy as np

    from anatomy_r1_verl.evaluation.prompts import load_rows

    parquet = str(data / "test.parquet")  # 12 rows
    full, _ = load_rows(parquet, asset_path(DEFAULT_MODEL))
    drawn, _ = load_rows(parquet, asset_path(DEFAULT_MODEL), 5, shuffle=True, seed=42)
    first, _ = load_rows(parquet, asset_path(DEFAULT_MODEL), 5)
    ids = [full[i]["extra_info"]["index"] for i in np.random.default_rng(42).choice(len(full), 5, replace=False)]
    assert [drawn[i]["extra_info"]["index"] for i in range(5)] == ids
    assert [first[i]["extra_info"]["index"] for i in range(5)] == [full[i]["extra_info"]["index"] for i in range(5)]
