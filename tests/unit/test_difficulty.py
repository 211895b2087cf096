"""ASCL difficulty S(q): closeness table, embeddings, row/table scoring, parquet and CLI."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from anatomy_r1_verl.ascl import difficulty as D
from anatomy_r1_verl.schema import ANATOMY_CLASSES, SchemaError, make_row

HARD = ["Gallbladder", "Cystic Plate", "Liver", "Gut"]
EASY = ["Gallbladder", "Abdominal Wall Cavity", "Omentum", "Gut"]


@pytest.fixture(scope="module")
def table_only():
    return D.DifficultyScorer({"embedding": "none"})


@pytest.fixture(scope="module")
def minilm():
    return D.DifficultyScorer()  # default config: the packaged all-MiniLM-L6-v2, lam 0.5


def counting_embedder(vectors):
    """A fake backend: fixed vectors per key, records every batch it is asked for."""
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.array([vectors[t] for t in texts], dtype=np.float32)

    return encode, calls


def row(i, options, answer, **kw):
    return make_row(
        data_source="t",
        question="Which structure is marked?",
        options=options,
        answer=answer,
        image="/nonexistent/img.png",
        split="train",
        index=i,
        row_id=f"q{i}",
        **kw,
    )


# --------------------------------------------------------------------------- table


def test_table_covers_the_six_classes_symmetric_in_range():
    t = D.ClosenessTable(D.DEFAULT_TABLE)
    assert set(ANATOMY_CLASSES) <= set(t.classes)
    idx = [t.index(c) for c in ANATOMY_CLASSES]
    m = t.matrix[np.ix_(idx, idx)]
    assert np.array_equal(m, m.T) and m.min() >= 0 and m.max() <= 1 and np.all(np.diag(m) == 1)
    off = m[~np.eye(6, dtype=bool)]
    assert np.all(off < 1)  # every pair of distinct classes is written (the default missing_pair would be 0)
    assert np.all(off > 0)


def test_known_pairs_table_only(table_only):
    s = table_only.sim
    assert s("Gallbladder", "Cystic Plate") == pytest.approx(0.9)
    assert s("Liver", "Gallbladder") == pytest.approx(0.7)
    assert s("Liver", "Cystic Plate") == pytest.approx(0.6)
    assert s("Gut", "Omentum") == pytest.approx(0.7)
    assert s("Omentum", "Abdominal Wall Cavity") == pytest.approx(0.5)
    assert s("Liver", "Omentum") == pytest.approx(0.3)
    assert s("Liver", "Omentum") < s("Gallbladder", "Cystic Plate")


def test_known_s_q_is_the_mean_of_table_values(table_only):
    assert table_only.lam == 0.0  # embedding none forces lambda 0
    assert table_only.score_options(HARD, "Gallbladder") == pytest.approx((0.9 + 0.7 + 0.4) / 3)
    assert table_only.score_options(EASY, "Gallbladder") == pytest.approx((0.2 + 0.4 + 0.4) / 3)
    assert table_only.score_options(["Liver", "Omentum"], "Liver") == pytest.approx(0.3)


def test_aliases_case_and_identical_strings(table_only):
    s = table_only.sim
    assert s("cystic_plate", "gallbladder") == pytest.approx(0.9)
    assert s("ABDOMINAL_WALL_CAVITY", "omentum") == pytest.approx(0.5)
    assert s("abdominal wall", "Omentum") == pytest.approx(0.5)  # listed alias
    assert s("Gallbladder", "gall bladder") == 1.0  # two names of one class
    assert s("Liver", " liver ") == 1.0
    assert s("red", "red") == 1.0  # identical, even if not in the table


def test_unknown_strings_use_missing_pair():
    assert D.DifficultyScorer({"embedding": "none"}).sim("red", "Liver") == 0.0
    assert D.DifficultyScorer({"embedding": "none", "missing_pair": 0.25}).sim("red", "blue") == 0.25
    # a table with a new class: pairs it does not list fall back to missing_pair too
    assert D.DifficultyScorer({"embedding": "none", "table": None}).sim("Liver", "Gut") == 0.0


def test_symmetric(table_only, minilm):
    names = list(ANATOMY_CLASSES) + ["red", "2"]
    for scorer in (table_only, minilm):
        m = scorer.matrix([D.normalize(n) for n in names])
        assert np.allclose(m, m.T)
        assert scorer.sim("Gut", "Liver") == pytest.approx(scorer.sim("Liver", "Gut"))


def test_custom_table_new_class_and_bad_tables(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("classes:\n  Liver: [hepar]\n  Cystic Duct: [duct]\ncloseness:\n  cystic_duct:\n    liver: 0.45\n")
    sc = D.DifficultyScorer({"embedding": "none", "table": str(p)})
    assert sc.sim("hepar", "DUCT") == pytest.approx(0.45) and sc.sim("Liver", "Gut") == 0.0
    p.write_text("closeness:\n  Liver:\n    Gut: 1.5\n")
    with pytest.raises(ValueError, match="Liver~Gut"):
        D.ClosenessTable(p)
    p.write_text("closeness:\n  Liver:\n    Gut: 0.2\n  Gut:\n    Liver: 0.3\n")
    with pytest.raises(ValueError, match="twice"):
        D.ClosenessTable(p)


def test_config_validation_and_aliases():
    assert D.DifficultyConfig.from_dict({"lambda": 0.3, "cache": "x.npz"}) == D.DifficultyConfig(
        lam=0.3, cache_path="x.npz"
    )
    with pytest.raises(ValueError, match="unknown config key"):
        D.DifficultyConfig.from_dict({"lamda": 0.3})
    with pytest.raises(ValueError, match="lam"):
        D.DifficultyConfig(lam=1.5)
    with pytest.raises(ValueError, match="aggregate"):
        D.DifficultyConfig(aggregate="median")
    with pytest.raises(ValueError, match="local model folder"):
        D.DifficultyScorer({"embedding": "/no/such/model"})


# --------------------------------------------------------------------------- S(q)


def test_more_similar_distractors_are_harder(table_only, minilm):
    for scorer in (table_only, minilm):
        hard, easy = scorer.score_options(HARD, "Gallbladder"), scorer.score_options(EASY, "Gallbladder")
        assert 0 <= easy < hard <= 1, (scorer.config.embedding, easy, hard)


def test_minilm_blends_cosine_and_table(minilm):
    # cos of the real model, recomputed here: sim = 0.5 cos + 0.5 table
    e = minilm.embedder(["gallbladder", "cystic plate"])
    cos = float(e[0] @ e[1])
    assert 0 < cos < 1
    assert minilm.sim("Gallbladder", "Cystic Plate") == pytest.approx(0.5 * cos + 0.5 * 0.9, abs=1e-6)
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)


def test_mean_vs_max(table_only):
    mx = D.DifficultyScorer({"embedding": "none", "aggregate": "max"})
    assert mx.score_options(HARD, "Gallbladder") == pytest.approx(0.9)
    assert table_only.score_options(HARD, "Gallbladder") == pytest.approx(2.0 / 3)
    assert mx.score_options(EASY, "Gallbladder") == pytest.approx(0.4)


def test_clipped_to_unit_interval():
    vec = {"a": [1, 0], "b": [-1, 0], "c": [1, 1e-9]}
    enc, _ = counting_embedder(vec)
    sc = D.DifficultyScorer(D.DifficultyConfig(embedding=enc, table=None, lam=1.0))
    assert sc.sim("a", "b") == 0.0  # cosine -1, clipped
    assert sc.sim("a", "c") == 1.0  # cosine 1 (+ float error), clipped
    assert sc.score_options(["a", "b", "c"], "a") == pytest.approx(0.5)


def test_each_distinct_string_is_embedded_once(tmp_path):
    vec = {k: np.random.default_rng(i).normal(size=8) for i, k in enumerate(D.normalize(c) for c in ANATOMY_CLASSES)}
    enc, calls = counting_embedder(vec)
    cache = tmp_path / "emb.npz"
    sc = D.DifficultyScorer(D.DifficultyConfig(embedding=enc, cache_path=str(cache)))
    rows = [row(i, HARD if i % 2 else EASY, "Gallbladder") for i in range(50)]
    rows += [row(50, ["liver", "GUT", "Omentum"], "GUT")]  # case variants share the key
    s1 = sc.score_table(rows)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(vec)  # one batch, each key once
    sc.score_table(rows)
    sc.sim("Liver", "Omentum")
    assert len(calls) == 1 and sc.embedder.encoded == 6
    # the disk cache serves a new scorer without any model call
    enc2, calls2 = counting_embedder(vec)
    enc2.__qualname__ = enc.__qualname__  # same model name
    sc2 = D.DifficultyScorer(D.DifficultyConfig(embedding=enc2, cache_path=str(cache)))
    assert np.allclose(sc2.score_table(rows), s1) and calls2 == []


def test_minilm_disk_cache_round_trip(minilm, tmp_path):
    cache = tmp_path / "c.npz"
    sc = D.DifficultyScorer({"cache_path": str(cache)})
    sc.embedder._encode = minilm.embedder._encode  # reuse the loaded model
    a = sc.sim("Gut", "Omentum")
    with np.load(cache) as z:
        assert set(z["keys"].tolist()) == {f"{D.MINILM_NAME}\tgut", f"{D.MINILM_NAME}\tomentum"}
    fresh = D.DifficultyScorer({"cache_path": str(cache)})
    assert fresh.sim("Gut", "Omentum") == pytest.approx(a, abs=1e-6) and fresh.embedder.encoded == 0


# --------------------------------------------------------------------------- rows


def test_score_row_and_table_agree(table_only):
    rows = [row(0, HARD, "Gallbladder"), row(1, EASY, "Gallbladder"), row(2, ["Liver", "Omentum"], "Omentum")]
    got = table_only.score_table(rows)
    assert got.dtype == np.float64 and got.shape == (3,)
    assert got == pytest.approx([2 / 3, 1 / 3, 0.3])
    assert [table_only.score_row(r) for r in rows] == pytest.approx(got)


def test_answer_from_ground_truth_letter(table_only):
    r = row(0, HARD, "Cystic Plate")
    del r["extra_info"]["answer"]
    assert r["reward_model"]["ground_truth"] == "B"
    assert table_only.score_row(r) == pytest.approx((0.9 + 0.6 + 0.1) / 3)


def test_foreign_row_with_prompt_option_lines(table_only):
    r = {
        "prompt": [{"role": "user", "content": "<image>What is this?\nA. Liver\nB. Gallbladder\nC. Gut"}],
        "reward_model": {"style": "rule", "ground_truth": "B"},
        "extra_info": {"index": 7},
    }
    assert table_only.score_row(r) == pytest.approx((0.7 + 0.4) / 2)


def test_row_without_options_raises_naming_it(table_only):
    r = {
        "prompt": [{"role": "user", "content": "<image>What is this?"}],
        "reward_model": {"ground_truth": "A"},
        "extra_info": {"id": "frame-42", "index": 3},
    }
    with pytest.raises(SchemaError, match="frame-42"):
        table_only.score_row(r)
    with pytest.raises(SchemaError, match="frame-42"):
        table_only.score_table([row(0, HARD, "Gallbladder"), r])


def test_answer_not_among_options_raises_naming_it(table_only):
    r = row(5, HARD, "Gallbladder")
    r["extra_info"]["answer"] = "Omentum"
    with pytest.raises(SchemaError, match="q5.*Omentum"):
        table_only.score_row(r)
    r = row(6, HARD, "Gallbladder")
    del r["extra_info"]["answer"]
    r["reward_model"]["ground_truth"] = "F"
    with pytest.raises(SchemaError, match="q6"):
        table_only.score_row(r)
    with pytest.raises(SchemaError):
        table_only.score_options(HARD, "Omentum")


def test_build_similarity_callable():
    sim = D.build_similarity({"embedding": "none", "lambda": 0.5})
    assert sim("Gallbladder", "Cystic Plate") == pytest.approx(0.9)
    ranked = sorted([c for c in ANATOMY_CLASSES if c != "Gallbladder"], key=lambda c: -sim("Gallbladder", c))
    assert ranked[:2] == ["Cystic Plate", "Liver"]


# --------------------------------------------------------------------------- parquet + CLI


def write_rows(path, rows):
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows), path)


@pytest.fixture
def tiny_parquet(tmp_path):
    p = tmp_path / "in.parquet"
    write_rows(p, [row(0, HARD, "Gallbladder"), row(1, EASY, "Gallbladder"), row(2, ["Liver", "Omentum"], "Liver")])
    return p


def test_score_parquet_adds_s_q_keeps_input(tiny_parquet, tmp_path, table_only, capsys):
    before = tiny_parquet.read_bytes()
    out = tmp_path / "out" / "scored.parquet"
    summary = D.score_parquet(tiny_parquet, out, scorer=table_only, show_progress=False, plot=str(tmp_path / "h.png"))
    assert tiny_parquet.read_bytes() == before
    src, got = pq.read_table(tiny_parquet), pq.read_table(out)
    assert got.column("s_q").to_pylist() == pytest.approx([2 / 3, 1 / 3, 0.3])
    assert [e["s_q"] for e in got.column("extra_info").to_pylist()] == got.column("s_q").to_pylist()
    for name in src.column_names:
        if name != "extra_info":
            assert got.column(name).equals(src.column(name)), name
    for a, b in zip(src.column("extra_info").to_pylist(), got.column("extra_info").to_pylist()):
        assert {k: v for k, v in b.items() if k != "s_q"} == a
    assert summary["count"] == 3 and summary["min"] == pytest.approx(0.3)
    assert sum(summary["histogram"]["counts"]) == 3 and len(summary["histogram"]["counts"]) == 10
    text = capsys.readouterr().out
    assert "S(q) of 3 rows" in text and "p50" in text and "#" in text
    from PIL import Image

    assert Image.open(tmp_path / "h.png").size == (640, 400)
    # re-scoring a scored file replaces s_q instead of adding a second one
    D.score_parquet(out, tmp_path / "again.parquet", scorer=table_only, show_progress=False)
    again = pq.read_table(tmp_path / "again.parquet")
    assert again.column_names.count("s_q") == 1 and again.column("s_q").equals(got.column("s_q"))


def test_score_parquet_refuses_to_overwrite_input(tiny_parquet, table_only):
    before = tiny_parquet.read_bytes()
    with pytest.raises(ValueError, match="refusing to overwrite"):
        D.score_parquet(tiny_parquet, tiny_parquet, scorer=table_only, show_progress=False)
    link = tiny_parquet.with_name("link.parquet")
    link.symlink_to(tiny_parquet)
    with pytest.raises(ValueError, match="refusing to overwrite"):
        D.score_parquet(tiny_parquet, link, scorer=table_only, show_progress=False)
    assert tiny_parquet.read_bytes() == before


def test_cli(tiny_parquet, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    rc = D.main(
        [
            str(tiny_parquet),
            "--out",
            str(out),
            "--embedding",
            "none",
            "--aggregate",
            "max",
            "--no-progress",
            "--plot",
            str(tmp_path / "p.png"),
        ]
    )
    assert rc == 0 and (tmp_path / "p.png").is_file()
    assert pq.read_table(out).column("s_q").to_pylist() == pytest.approx([0.9, 0.4, 0.3])
    assert D.main([str(tiny_parquet), "--out", str(tiny_parquet), "--embedding", "none"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    bad = tmp_path / "bad.parquet"
    write_rows(bad, [{"prompt": [{"role": "user", "content": "no options"}], "extra_info": {"id": "z9", "index": 0}}])
    assert D.main([str(bad), "--out", str(tmp_path / "o.parquet"), "--embedding", "none", "--no-progress"]) == 2
    assert "z9" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        D.main(["--help"])
    assert e.value.code == 0 and "anatomy-r1 prepare score" in capsys.readouterr().out


def test_python_m_help():
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "anatomy_r1_verl.ascl.difficulty", "--help"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and "--embedding" in r.stdout and "--plot" in r.stdout


def test_many_distinct_options_and_variable_option_counts():
    vec = {f"opt {i}": np.random.default_rng(i).normal(size=16) for i in range(3000)}
    enc, calls = counting_embedder(vec)
    sc = D.DifficultyScorer(D.DifficultyConfig(embedding=enc, table=None, lam=1.0, aggregate="max"))
    rng = np.random.default_rng(0)
    rows = []
    for i in range(2000):
        opts = [f"opt {j}" for j in rng.choice(3000, size=int(rng.integers(2, 6)), replace=False)]
        rows.append({"extra_info": {"id": i, "options": opts, "answer": opts[int(rng.integers(len(opts)))]}})
    got = sc.score_table(rows)
    assert len(calls) == 1  # one batch for all distinct strings
    for r, g in zip(rows[:50], got[:50]):
        o, a = r["extra_info"]["options"], r["extra_info"]["answer"]
        assert g == pytest.approx(max(sc.sim(a, d) for d in o if d != a))
