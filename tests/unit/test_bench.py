"""`anatomy-r1 bench`'s engine without training: the grid's commands, the data manifest, the training table,
the claims' verdicts, the drawn-difficulty metric of curriculum-off runs, and the report from hand-made runs."""

import json
import random
from pathlib import Path

import pytest

from anatomy_r1_verl.ascl.feedback import BATCH_MEAN_S_Q, DrawnDifficulty
from anatomy_r1_verl.bench import data, grid, runner, settings, verdict
from anatomy_r1_verl.commands.bench import build_parser as bench_parser
from anatomy_r1_verl.commands.bench import main as bench_main
from anatomy_r1_verl.commands.bench import write_report
from anatomy_r1_verl.evaluation import results
from anatomy_r1_verl.grammar import DEFAULT_FAMILY_WEIGHTS
from anatomy_r1_verl.hooks import DrawnBatch, StepSamples
from anatomy_r1_verl.report import training

# a start model's settings, as bench.settings.resolve would give them (not the demo recipe's, so that a test
# sees them reach the rows)
SETTINGS = settings.BenchSettings(model="/models/start", response_length=96, image_position="last", lr=2e-4)


def test_grid_is_seed_major_and_every_rl_row_shares_data_budget_and_seed(tmp_path):
    runs = grid.plan(
        None,
        [0, 1],
        grid.Budget(steps=7, prompts=4, rollouts=2, save_every=3),
        tmp_path / "d",
        tmp_path / "o",
        SETTINGS,
        overrides=("actor_rollout_ref.actor.optim.lr=3e-4",),
    )
    assert [r.seed for r in runs] == [0] * len(grid.METHODS) + [1] * len(grid.METHODS)
    assert [r.method for r in runs[: len(grid.METHODS)]] == list(grid.METHODS)
    for r in runs:
        args = dict(a.split("=", 1) for a in r.train_args)
        assert args["profile"] == "cpu" and args["model"] == "tiny" and args["benchmark"] == "synthetic"
        assert args["trainer.experiment_name"] == f"bench_{r.method}_seed{r.seed}"
        run_dir = tmp_path / "o" / "runs" / f"bench_{r.method}_seed{r.seed}"
        assert "--method" in r.eval_args() and str(r.seed) in r.eval_args()
        assert r.eval_args()[-2:] == ("--max-new-tokens", "96")  # every row evaluated at the settings' length
        if r.method in grid.RL_METHODS:
            assert args["trainer.total_training_steps"] == "7" and args["trainer.save_freq"] == "3"
            assert r.checkpoint == run_dir / "checkpoints" / "global_step_7"
            train = grid.ROW_TRAIN_FILE.get(r.method, "train_augmented.parquet")
            assert args["data.train_files"] == str(tmp_path / "d" / train)
            assert args["data.train_batch_size"] == "4" and args["actor_rollout_ref.rollout.n"] == "2"
            assert args["data.seed"] == args["actor_rollout_ref.rollout.seed"] == str(r.seed)
            assert args["actor_rollout_ref.actor.optim.lr"] == "3e-4"  # the override, given after the settings'
            assert "actor_rollout_ref.actor.optim.lr=0.0002" in r.train_args
            assert args["actor_rollout_ref.model.path"] == "/models/start" and args["data.max_response_length"] == "96"
            assert r.test_file.name == "test_scored.parquet" and r.sft_file is None
        else:  # SFT: the questions RL sees (7 steps x 4 prompts), in batches of 4, for the epochs chosen on val
            lr, epochs = grid.SFT_SETTINGS[r.method]
            assert args["data.train_batch_size"] == "4" and args["trainer.seed"] == str(r.seed)
            assert args["data.micro_batch_size_per_gpu"] == "4"  # divides the batch (the cpu profile's is 8)
            assert args["optim.lr"] == str(lr) and args["trainer.total_epochs"] == str(epochs)
            assert "trainer.total_training_steps" not in args  # the epochs decide
            n = None if r.method == "sft_ceiling" else 28  # the ceiling: every train question (1,024)
            assert r.sft_file == data.SFTFile(r.seed, grid.SFT_TARGETS[r.method], n)
            assert args["data.train_files"] == str(r.sft_file.path(tmp_path / "d"))
            steps = (1024 // 4 if n is None else 7) * epochs
            assert r.checkpoint == run_dir / "checkpoints" / f"global_step_{steps}"
            assert "actor_rollout_ref.actor.optim.lr" not in args and args["model.path"] == "/models/start"
            assert r.test_file.name == ("sft_test.parquet" if r.method == "sft" else "test_scored.parquet")


def test_unknown_method_and_bad_budget_are_errors_naming_them(tmp_path):
    with pytest.raises(ValueError, match="unknown \\['ppo'\\].*grpo"):
        grid.plan(["grpo", "ppo"], [0], grid.Budget(), tmp_path, tmp_path, SETTINGS)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        grid.Budget(steps=0)
    assert bench_main(["--methods", "nope", "--dry-run"]) == 2


def test_data_folder_made_with_other_settings_is_refused(tmp_path):
    (tmp_path / data.MANIFEST).write_text(json.dumps({**data.DataSpec().__dict__, "train": 5}))
    with pytest.raises(data.BenchDataError, match="made with .* another --data"):
        data.ensure(tmp_path, data.DataSpec())


def test_a_finished_run_is_not_trained_again(tmp_path):
    run = grid.plan(["grpo"], [0], grid.Budget(), tmp_path / "d", tmp_path / "o", SETTINGS)[0]
    run.run_dir.mkdir(parents=True)
    (run.run_dir / runner.DONE).write_text(json.dumps({"wall_s": 12.5, "args": list(run.train_args)}))
    o = runner.train(run, tmp_path / "o", env={})  # would fail loudly if it started a child: no data, no model
    assert o.skipped == ["train"] and o.wall_s == 12.5 and o.error is None
    # the same folder asked for another budget: refused by name, not reused as if it were that budget
    longer = grid.plan(["grpo"], [0], grid.Budget(steps=32), tmp_path / "d", tmp_path / "o", SETTINGS)[0]
    o = runner.train(longer, tmp_path / "o", env={})
    assert o.error and "trained with other arguments" in o.error and "trainer.total_training_steps=32" in o.error


def test_drawn_difficulty_is_the_mean_of_the_drawn_rows_that_have_one():
    h = DrawnDifficulty()
    h.on_draw(DrawnBatch(step=1, rows=[{"s_q": 0.2}, {"s_q": 0.4}, {"id": "x"}, {"s_q": float("nan")}]))
    assert h.on_step(StepSamples(keys=[])) == {BATCH_MEAN_S_Q: pytest.approx(0.3)}
    assert h.on_step(StepSamples(keys=[])) == {}  # nothing drawn since: nothing logged


CLASSES = ["Gut", "Liver"]


def _run(root, method, seed, steps=12, s_q_slope=0.0, invalid=0.5, step_s=5.0, fmt=1.0):
    d = root / "runs" / f"bench_{method}_seed{seed}"
    d.mkdir(parents=True)
    rng = random.Random(seed)
    with open(d / "metrics.jsonl", "w") as f:
        for t in range(1, steps + 1):
            rec = {
                "critic/score/mean": 1.0 + 0.01 * t,
                "curriculum/batch_mean_s_q": 0.3 + s_q_slope * t,
                "reward/format/mean": fmt,
                "timing_s/step": (60.0 if t == 1 else step_s + rng.uniform(-0.1, 0.1)),
                "gdqa/invalid_gradient_ratio": invalid,
            }
            rec.update({f"gdqa/invalid_gradient_ratio/{c}": invalid + (0.1 if c == "Gut" else 0) for c in CLASSES})
            f.write(json.dumps({"step": t, "data": rec}) + "\n")
    return d


def _write_eval(path, method, seed, right, extra=None):
    """An evaluation of ``len(right)`` questions (``right[i]``: question i answered right), each with ``extra(i)``
    as its extra_info when given."""
    recs = [
        {
            "benchmark": "synthetic_scene",
            "file": "t.parquet",
            "row": i,
            "answer_class": CLASSES[i % 2],
            "question_type": "zero_hop",
            "complexity": "",
            "modality": "",
            **({"extra_info": extra(i)} if extra else {}),
            "acc": float(r),
            "format": 1.0,
            "score": 0.0,
        }
        for i, r in enumerate(right)
    ]
    path.mkdir(parents=True)
    results.write_responses(path, recs)
    results.write_metrics(path, recs, {"method": method, "seed": seed})


def _eval(root, method, seed, acc, n=100):
    _write_eval(root / "evals" / method / f"seed{seed}", method, seed, [i < acc * n for i in range(n)])


def test_training_summary_skips_the_start_up_step_and_groups_seeds(tmp_path):
    runs = [_run(tmp_path, "grpo", s, step_s=4.0 + s) for s in (0, 1)]
    sums = training.summarize_runs(runs)
    assert [(s["method"], s["seed"]) for s in sums] == [("grpo", 0), ("grpo", 1)]
    assert sums[0]["step_s"] == pytest.approx(4.0, abs=0.1)  # the 60 s first step is not the median's
    assert sums[0]["reward_final"] == pytest.approx(1.0 + 0.01 * (8 + 9 + 10 + 11 + 12) / 5)
    assert sums[0]["invalid_by_class"] == {"Gut": pytest.approx(0.6), "Liver": pytest.approx(0.5)}
    md = training.markdown(sums)
    assert "| grpo | 0 1 | 12 |" in md and "4.50 ± 0.7" in md


@pytest.mark.parametrize("better", [True, False])
def test_claims_are_met_or_missed_by_the_numbers(tmp_path, better):
    """Five seeds (three cannot reach p < 0.05 over seeds) and the start model's eval."""
    _eval(tmp_path, "start", 0, 0.35)
    for s in (0, 1, 2, 3, 4):
        _run(tmp_path, "grpo", s, s_q_slope=0.0, invalid=0.5, step_s=5.0)
        _run(tmp_path, "grpo_ascl", s, s_q_slope=0.03 if better else 0.0)
        _run(tmp_path, "grpo_gdqa", s, invalid=0.2 if better else 0.6)
        _run(tmp_path, "anatomy_r1", s, step_s=5.05 if better else 6.0)
        _run(tmp_path, "grpo_gdqa_keep", s, invalid=0.3)
        _eval(tmp_path, "grpo", s, 0.40 + 0.01 * s)
        _eval(tmp_path, "anatomy_r1", s, (0.50 if better else 0.39) + 0.01 * s)
        _eval(tmp_path, "grpo_ascl", s, 0.45 + 0.01 * s)
        _eval(tmp_path, "grpo_ascl_shuffled", s, (0.40 if better else 0.46) + 0.01 * s)
    assert write_report(tmp_path, tmp_path / "report", log=lambda m: None, settings=SETTINGS)
    claims = (tmp_path / "report" / "claims.md").read_text()
    assert "| response_length | 96 |" in claims and (tmp_path / "report" / "settings.json").is_file()
    word = "met" if better else "missed"
    assert claims.count(f"**{word}**") == 5, claims
    info = next(x for x in claims.splitlines() if x.startswith("- ASCL's information"))
    assert f"**{word}**" in info and "grpo_ascl minus grpo_ascl_shuffled: seed 0" in info
    control = next(x for x in claims.splitlines() if "-> grpo_gdqa_keep" in x)
    assert "reported, not judged" in control and "**" not in control  # a control: numbers, no verdict
    assert "Gut 0.600 -> 0.400" in control and "training format rates grpo 1.000, grpo_gdqa_keep 1.000" in control
    assert ("seed 0 +10.0 (10/0" if better else "seed 0 -1.0 (0/1") in claims
    assert "format rates differ" not in claims
    step = next(x for x in claims.splitlines() if x.startswith("- Median step time"))
    assert "paired by seed:" in step and "t test of < 3 % p" in step  # the interval and test behind the verdict
    s_q = next(x for x in claims.splitlines() if x.startswith("- Batch-mean S(q)"))
    assert (
        "95 % t interval of the change" in s_q
        and ("grpo_ascl 0.390 -> 0.600 (+0.210 [+0.210, +0.210])" in s_q) == better
    ), s_q
    assert "**Paired comparisons**" in claims and "grpo minus start: seed 0 +5.0" in claims
    assert (tmp_path / "report" / "figure1.png").is_file() and (tmp_path / "report" / "figure2.png").is_file()
    assert "| anatomy_r1 | 0 1 2 3 4 |" in (tmp_path / "report" / "training.md").read_text()


def test_claims_with_missing_rows_say_not_measured():
    md = verdict.markdown([], [])
    assert md.count("not measured") == 6


def test_figures_average_a_methods_seeds_step_by_step():
    from anatomy_r1_verl.report.figures import average_runs

    label, s = average_runs("grpo", [("a", {"m": ([1, 2], [0.2, 0.4])}), ("b", {"m": ([1, 2, 3], [0.4, 0.6, 1.0])})])
    assert label == "grpo (2 seeds)"
    assert s["m"][0] == [1, 2, 3] and s["m"][1] == pytest.approx([0.3, 0.5, 1.0])


def test_a_folder_with_its_own_splits_is_used_as_it_is(tmp_path, monkeypatch):
    for f in data.FILES:
        (tmp_path / f).write_text("x")
    for step in ("generate", "score_parquet", "augment_parquet"):  # nothing is made again
        monkeypatch.setattr(data, step, lambda *a, _s=step, **k: pytest.fail(f"ran {_s}{a}"))
    monkeypatch.setattr(data.sft, "convert", lambda *a: pytest.fail(f"ran sft.convert{a}"))
    msgs = []
    assert data.ensure(tmp_path, data.DataSpec(train=5), log=msgs.append) == tmp_path
    assert "not made by bench" in msgs[0] and json.loads((tmp_path / data.MANIFEST).read_text()) == {"external": True}
    data.ensure(tmp_path, data.DataSpec(train=7), log=msgs.append)  # still accepted on the rerun


def test_every_grid_run_composes_to_its_row_on_cpu(tmp_path):
    """The exact arguments bench gives `anatomy-r1 train`, composed with verl's config (no Ray, no model)."""
    from omegaconf import OmegaConf

    from anatomy_r1_verl.launch.compose import compose

    runs = grid.plan(None, [2], grid.Budget(steps=5, prompts=4, rollouts=3), tmp_path / "d", tmp_path / "o", SETTINGS)
    seen = {}
    for r in runs:
        cfg = compose(r.recipe, list(r.train_args))
        OmegaConf.resolve(cfg)
        seen[r.method] = cfg
        assert cfg.trainer.experiment_name == f"bench_{r.method}_seed2"
        if r.method in grid.SFT_METHODS:
            lr, epochs = grid.SFT_SETTINGS[r.method]
            assert cfg.data.train_batch_size == 4 and cfg.trainer.device == "cpu" and cfg.optim.lr == lr
            assert cfg.trainer.total_epochs == epochs and cfg.trainer.total_training_steps is None
            assert cfg.data.train_files == str(r.sft_file.path(tmp_path / "d")) and cfg.model.path == "/models/start"
            continue
        assert cfg.trainer.total_training_steps == 5
        assert cfg.actor_rollout_ref.rollout.name == "hfcpu" and cfg.trainer.device == "cpu"
        assert cfg.actor_rollout_ref.model.path == "/models/start" and cfg.actor_rollout_ref.actor.optim.lr == 2e-4
        assert cfg.actor_rollout_ref.rollout.response_length == 96 == cfg.data.max_response_length
        assert cfg.data.train_files == str(
            tmp_path / "d" / grid.ROW_TRAIN_FILE.get(r.method, "train_augmented.parquet")
        )
        assert cfg.data.train_batch_size == 4 and cfg.actor_rollout_ref.rollout.n == 3 and cfg.data.seed == 2
    # the rows differ exactly where the paper's methods do
    assert seen["grpo_ascl"].anatomy_r1.curriculum.enable and not seen["grpo"].anatomy_r1.curriculum.enable
    shuffled = seen["grpo_ascl_shuffled"].anatomy_r1.curriculum
    assert shuffled.enable and shuffled.shuffle_s_q and not seen["grpo_ascl"].anatomy_r1.curriculum.shuffle_s_q
    assert seen["grpo_gdqa"].anatomy_r1.gdqa.enable and not seen["grpo_gdqa"].anatomy_r1.curriculum.enable
    assert seen["anatomy_r1"].anatomy_r1.gdqa.enable and seen["anatomy_r1"].anatomy_r1.curriculum.enable
    assert seen["dapo"].algorithm.filter_groups.enable and seen["gpg"].algorithm.adv_estimator == "gpg"
    assert seen["dr_grpo"].algorithm.norm_adv_by_std_in_grpo is False
    weights = {m: seen[m].reward.custom_reward_function.reward_kwargs.weights for m in ("grpo", "grpo_checks")}
    assert weights["grpo_checks"].checks == 0.5 and weights["grpo"].checks == 0.0  # logged, not rewarded
    assert weights["grpo_checks"].accuracy == weights["grpo"].accuracy == 1.0


def test_a_gdqa_spread_that_comes_from_the_format_misses_the_claim(tmp_path):
    for s in (0, 1):
        _run(tmp_path, "grpo", s, invalid=0.5, fmt=0.99)
        _run(tmp_path, "grpo_gdqa", s, invalid=0.0, fmt=0.49)
    sums = training.summarize_runs(sorted((tmp_path / "runs").iterdir()))
    md = verdict.markdown([], sums)
    line = next(x for x in md.splitlines() if x.startswith("- Invalid-gradient"))
    assert "**missed**" in line and "training format rates differ (grpo_gdqa 0.49, grpo 0.99" in line
    table = training.markdown(sums)
    assert "mean train format rate" in table and "| 0.490 ± 0.000 |" in table


def test_sft_seeds_get_their_own_order_and_the_budgets_questions(tmp_path):
    import pyarrow.parquet as pq

    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

    generate(SyntheticConfig(out_dir=str(tmp_path), seed=3, train=12, val=0, test=0), progress=False)
    ids = {}
    for seed, target in ((0, "answer"), (1, "answer"), (0, "think")):
        path = data.make_sft_train(tmp_path, data.SFTFile(seed, target, 5))
        rows = pq.read_table(path).to_pylist()
        assert len(rows) == 5 and path.name == f"sft_{target}_train_seed{seed}_n5.parquet"
        ids[seed, target] = [r["extra_info"]["id"] for r in rows]
        assert all(("<think>" in r["messages"][-1]["content"]) == (target == "think") for r in rows)
    assert ids[0, "answer"] == ids[0, "think"] != ids[1, "answer"]  # the seed picks and orders the questions
    assert not list(tmp_path.glob("*.order.parquet"))
    full = pq.read_table(data.make_sft_train(tmp_path, data.SFTFile(2, "answer", None))).num_rows
    assert full == 12


def test_settings_come_from_the_demo_recipe_unless_given(tmp_path):
    """The start model and what it needs are the demo recipe's; a flag, an RL row's key=value or an
    anatomy_r1.demo.* key changes one, and each says where it came from."""
    from anatomy_r1_verl.launch.compose import compose

    demo = compose(settings.SOURCE_RECIPE)
    s = settings.resolve()
    assert s.model == demo.actor_rollout_ref.model.path and s.response_length == demo.data.max_response_length
    assert s.image_position == demo.anatomy_r1.demo.image_position and s.lr == demo.actor_rollout_ref.actor.optim.lr
    assert s.sources["lr"] == "demo_cpu recipe, actor_rollout_ref.actor.optim.lr"
    # the SFT think rows in the start model's own style (the demo's model checks the options, answers with the text)
    assert (s.think, s.answer) == ("check", "text") and "warmstart.json" in s.sources["think"]
    model = tmp_path / "m"
    model.mkdir()
    given = settings.resolve(
        str(model),
        max_new_tokens=48,
        overrides=(
            "actor_rollout_ref.actor.optim.lr=5e-5",
            "anatomy_r1.demo.look=classic",
            "anatomy_r1.demo.family_weights.one_hop=1",
            "trainer.seed=3",
        ),
    )
    assert (given.model, given.response_length, given.lr, given.look) == (str(model), 48, 5e-5, "classic")
    assert given.sources["families"] == "anatomy_r1.demo.family_weights.one_hop=1 (given)"
    assert given.families["one_hop"] == 1 and given.families["zero_hop"] == 1
    assert (given.think, given.answer) == ("think", "letter")  # a model without warmstart.json: the default
    assert given.image_position == s.image_position  # not given: still the recipe's
    assert given.sources["response_length"] == "--max-new-tokens 48"
    assert given.sources["lr"] == "actor_rollout_ref.actor.optim.lr=5e-5 (given)"
    assert settings.split_overrides(("anatomy_r1.demo.look=lookalike", "trainer.seed=3")) == (
        ("anatomy_r1.demo.look=lookalike",),
        ("trainer.seed=3",),
    )
    # the data follow the settings, and the report records them
    assert given.data_fields() == {
        "image_position": s.image_position,
        "look": "classic",
        "options": s.options,
        "family_weights": {"zero_hop": 1.0, "one_hop": 1.0, "attribute_relation": 0.0, "single_and": 0.0},
    }
    classic = settings.resolve(recipe="demo_cpu_classic")
    assert classic.data_fields()["family_weights"] == DEFAULT_FAMILY_WEIGHTS  # that recipe states no mix: the default
    given.write(tmp_path / "report")
    md = (tmp_path / "report" / "settings.md").read_text()
    assert "| response_length | 48 | --max-new-tokens 48 |" in md and "tiny-qwen25vl-warm" in md
    assert json.loads((tmp_path / "report" / "settings.json").read_text())["lr"] == 5e-5


def test_bad_settings_are_errors_naming_where_they_came_from(tmp_path):
    with pytest.raises(ValueError, match="not a folder \\(from --model"):
        settings.resolve(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="response_length must be >= 1"):
        settings.BenchSettings(model="m", response_length=0, image_position="last", lr=1e-4)
    with pytest.raises(ValueError, match="image"):
        settings.BenchSettings(model="m", response_length=8, image_position="middle", lr=1e-4)
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        settings.BenchSettings(model="m", response_length=8, image_position="last", lr=0.0)
    assert bench_main(["--dry-run", "--max-new-tokens", "0", "--methods", "grpo"]) == 2


def test_an_evaluation_made_with_other_settings_is_not_reused(tmp_path):
    test_file = tmp_path / "test_scored.parquet"
    assert not runner.finished_eval(tmp_path / "e", test_file, 128)
    (tmp_path / "e").mkdir()
    metrics = {"files": [str(test_file)], "max_new_tokens": 64}
    (tmp_path / "e" / "metrics.json").write_text(json.dumps(metrics))
    assert runner.finished_eval(tmp_path / "e", test_file, 64)
    with pytest.raises(ValueError, match="other settings .*max_new_tokens.*\\(64, 128\\)"):
        runner.finished_eval(tmp_path / "e", test_file, 128)
    with pytest.raises(ValueError, match="files"):
        runner.finished_eval(tmp_path / "e", tmp_path / "test.parquet", 64)


def test_the_test_split_comes_from_its_own_seed(tmp_path):
    """Train and val from the data seed, test from the test seed: no test frame is a train or val frame."""
    import pyarrow.parquet as pq

    spec = data.DataSpec(seed=3, train=8, val=4, test=6, test_seed=9, image_position="last")
    data.ensure(tmp_path, spec, log=lambda m: None)
    test = pq.read_table(tmp_path / "test_scored.parquet").to_pylist()
    train = pq.read_table(tmp_path / "train.parquet").to_pylist()
    assert len(test) == 6 and all("s_q" in r["extra_info"] for r in test)
    from anatomy_r1_verl.schema import row_meta

    assert {row_meta(r)["seed"] for r in test} == {9} and {row_meta(r)["seed"] for r in train} == {3}
    frames = lambda rows: {r["images"][0]["image"] for r in rows}  # noqa: E731
    assert not frames(test) & frames(train) and all("test_seed9" in f for f in frames(test))
    assert pq.read_table(tmp_path / "sft_test.parquet").num_rows == 6
    assert test[0]["prompt"][0]["content"].endswith("<image>")  # the settings' image position


def test_sft_think_rows_write_the_start_models_style(tmp_path):
    import pyarrow.parquet as pq

    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

    scan = settings.BenchSettings(
        model="/m", response_length=128, image_position="last", lr=3e-4, think="scan", answer="text"
    )
    runs = {r.method: r for r in grid.plan(None, [0], grid.Budget(steps=2, prompts=4), tmp_path, tmp_path, scan)}
    assert runs["sft_think"].sft_file == data.SFTFile(0, "scan", 8, "text")
    assert runs["sft"].sft_file == data.SFTFile(0, "answer", 8)  # answer-only stays the paper's row
    assert runs["sft_think"].sft_file.path(tmp_path).name == "sft_scan-text_train_seed0_n8.parquet"
    generate(SyntheticConfig(out_dir=str(tmp_path), seed=3, train=8, val=0, test=0), progress=False)
    rows = pq.read_table(data.make_sft_train(tmp_path, runs["sft_think"].sft_file)).to_pylist()
    for r in rows:
        reply = r["messages"][-1]["content"]
        assert reply.startswith("<think>The top-left is ") and reply.endswith(
            f"<answer>{r['extra_info']['answer']}</answer>"
        )
    with pytest.raises(ValueError, match="not supported"):
        settings.BenchSettings(model="/m", response_length=8, image_position="last", lr=1e-4, think="grounded")
    check = settings.BenchSettings(model="/m", response_length=8, image_position="last", lr=1e-4, think="check")
    check_runs = {r.method: r for r in grid.plan(None, [0], grid.Budget(steps=2, prompts=4), tmp_path, tmp_path, check)}
    assert check_runs["sft_think"].sft_file.target == "check"  # the look-alike warm start's own style
    from anatomy_r1_verl.schema import SchemaError
    from data_prep import sft

    with pytest.raises(SchemaError, match="--answer text applies to a think target"):
        sft.convert(str(tmp_path / "train.parquet"), str(tmp_path / "x.parquet"), "answer", answer_form="text")


def test_the_bench_runs_the_lookalike_benchmark_unless_told_classic():
    """The default settings are the look-alike benchmark's (recipes/demo_cpu.yaml); --classic takes the classic
    frames' recipe and its start model; a given setting still wins over either."""
    from anatomy_r1_verl.config.assets import asset_path
    from anatomy_r1_verl.launch.recipes import DEMO_RECIPES

    s = settings.resolve()
    assert s.model == str(Path(asset_path("tiny-qwen25vl-lookalike-check")).resolve())
    assert (s.response_length, s.lr, s.look, s.options, s.image_position) == (160, 1e-4, "lookalike", "spread", "last")
    assert s.data_fields()["family_weights"] == {
        "zero_hop": 1.0,
        "one_hop": 0.0,
        "attribute_relation": 0.0,
        "single_and": 0.0,
    }
    classic = settings.resolve(recipe=DEMO_RECIPES["classic"])
    assert classic.model == str(Path(asset_path("tiny-qwen25vl-annotated")).resolve())
    assert (classic.response_length, classic.lr, classic.look, classic.options) == (128, 3e-4, "classic", "uniform")
    assert (classic.think, classic.answer) == ("scan", "text")
    assert classic.sources["lr"] == "demo_cpu_classic recipe, actor_rollout_ref.actor.optim.lr"
    given = settings.resolve(None, 200, overrides=("actor_rollout_ref.actor.optim.lr=3e-4",))
    assert (given.response_length, given.lr) == (200, 3e-4)
    assert bench_parser().parse_args(["--classic"]).classic
    with pytest.raises(SystemExit):
        bench_parser().parse_args(["--classic", "--lookalike"])


def test_rl_runs_evaluate_their_mid_run_checkpoints_for_the_learning_curve(tmp_path):
    runs = grid.plan(None, [0], grid.Budget(steps=7, save_every=3), tmp_path / "d", tmp_path / "o", SETTINGS)
    for r in runs:
        if r.method in grid.RL_METHODS:
            ckpts = r.run_dir / "checkpoints"
            curve = tmp_path / "o" / grid.CURVE_DIR / r.method / "seed0"
            assert r.curve == (
                (3, ckpts / "global_step_3", curve / "step3"),
                (6, ckpts / "global_step_6", curve / "step6"),
            )
        else:
            assert r.curve == ()  # SFT rows: epochs, no mid-run point
    grpo = runs[0]
    o = runner.evaluate_curve(runner.Outcome(grpo), tmp_path / "o", env={})  # no checkpoint: named, no child run
    assert o.error and "global_step_3" in o.error and "learning curve at step 3" in o.error
    for _, _, eval_dir in grpo.curve:  # evaluated before (with the run's settings): not redone
        eval_dir.mkdir(parents=True)
        meta = {"files": [str(grpo.test_file)], "max_new_tokens": grpo.max_new_tokens}
        (eval_dir / results.METRICS).write_text(json.dumps(meta))
    o = runner.evaluate_curve(runner.Outcome(grpo), tmp_path / "o", env={})
    assert o.error is None and o.eval_s is None


def _scored_eval(path, method, seed, hard_acc, easy_acc, n=100):
    """An evaluation of ``n`` scored questions: S(q) rising with the row, right on the hard half with
    ``hard_acc`` and on the easy half with ``easy_acc``."""
    # exact on every block of 10, so on every quintile
    right = [(i % 10) < (hard_acc if i >= n // 2 else easy_acc) * 10 for i in range(n)]
    _write_eval(path, method, seed, right, extra=lambda i: {"s_q": i / n})


def test_the_learning_curve_reads_start_mid_run_and_final_evaluations(tmp_path):
    from anatomy_r1_verl.report import curve

    out = tmp_path / "o"
    _scored_eval(out / "evals" / grid.START / "seed0", grid.START, 0, hard_acc=0.2, easy_acc=1.0)
    for seed, mid, final in ((0, 0.4, 0.6), (1, 0.6, 0.8)):  # the hard half improves, the easy half pays
        _scored_eval(out / grid.CURVE_DIR / "grpo" / f"seed{seed}" / "step16", "grpo", seed, mid, 0.9)
        _scored_eval(out / "evals" / "grpo" / f"seed{seed}", "grpo", seed, final, 0.8)
    _scored_eval(out / "evals" / "sft" / "seed0", "sft", 0, 0.5, 0.5)  # no mid-run point: not a curve
    points = curve.collect(out / "evals", out / grid.CURVE_DIR, 32, start=grid.START)
    assert list(points) == ["grpo"] and sorted(points["grpo"]) == [0, 16, 32]
    assert curve.accuracy(points["grpo"][0][0]) == pytest.approx(0.6)
    assert curve.accuracy(points["grpo"][32][1], ("Q4", "Q5")) == pytest.approx(0.8)
    md = curve.markdown(points)
    # all questions: start 60, step 16 mean of 65 and 75, step 32 mean of 70 and 80; Q1 falls 100 -> 80
    assert "| grpo | 60.0 (1) | 70.0 ± 7.1 (2) | 75.0 ± 7.1 (2) |" in md
    assert "| grpo | 100.0 (1) | 90.0 ± 0.0 (2) | 80.0 ± 0.0 (2) |" in md
    assert curve.figure(points, tmp_path / "curve.png").stat().st_size > 0
    # the bench's report writes them when it knows the final step
    assert write_report(out, tmp_path / "report", log=lambda _: None, final_step=32) is not None
    assert (tmp_path / "report" / "curve.md").read_text() == md and (tmp_path / "report" / "curve.png").is_file()
