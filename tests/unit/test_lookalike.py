"""The look-alike benchmark: appearance derived from the closeness table, options spread over S(q), its data."""

import itertools
import random
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable
from anatomy_r1_verl.schema import ANATOMY_CLASSES, row_meta
from anatomy_r1_verl.synthetic.appearance import CUES, cue_coordinates, looks
from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
from anatomy_r1_verl.synthetic.options import set_closeness, spread_options, spread_weights, uniform_options
from anatomy_r1_verl.synthetic.questions import execute, parse_question
from anatomy_r1_verl.synthetic.scene import REGION_COLOURS, anatomy_colours, render_scene, sample_layout

TABLE = ClosenessTable(DEFAULT_TABLE)


def _look_vector(look, scale):
    return np.array([getattr(look, c) / s for c, s in zip(CUES, scale)])


def test_visual_distance_falls_as_closeness_rises():
    """Pairwise distance between the classes' looks ranks like 1 - closeness (the closest pair looks most alike,
    the least close pair least alike)."""
    lk = looks(TABLE)
    scale = [60.0, 0.55, 1.4, 4.0, 1.2]  # each cue in units of its gain: distances comparable across cues
    names = TABLE.classes
    pairs = list(itertools.combinations(range(len(names)), 2))
    visual = [np.linalg.norm(_look_vector(lk[names[i]], scale) - _look_vector(lk[names[j]], scale)) for i, j in pairs]
    anatomical = [1 - TABLE.matrix[i, j] for i, j in pairs]
    assert spearmanr(anatomical, visual).statistic > 0.9
    by_pair = dict(zip(pairs, visual))
    gb, cp, awc = (names.index(c) for c in ("Gallbladder", "Cystic Plate", "Abdominal Wall Cavity"))
    assert by_pair[(gb, cp)] < by_pair[tuple(sorted((cp, awc)))] / 2


def test_a_class_added_to_the_table_gets_a_look(tmp_path):
    doc = DEFAULT_TABLE.read_text() + "  Cystic Duct:\n    Gallbladder: 0.8\n    Cystic Plate: 0.6\n"
    path = tmp_path / "table.yaml"
    path.write_text(doc)
    table = ClosenessTable(path)
    lk = looks(table)
    assert set(lk) == set(ANATOMY_CLASSES) | {"Cystic Duct"}
    assert lk["Cystic Duct"] not in [lk[c] for c in ANATOMY_CLASSES]


def test_mds_recovers_a_euclidean_table():
    pts = np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.4], [0.5, 0.5]])
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    coords = cue_coordinates(1 - d, dims=2)
    got = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    assert np.allclose(got, d, atol=1e-9)


def _cell_means(look, n_frames, seed):
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for _ in range(n_frames):
        scene = sample_layout(rng, 0, anatomy_colours(look))
        img = np.asarray(render_scene(scene, 84, rng, look=look), np.float32)
        for o in scene["objects"]:
            cell = img[o["row"] * 28 : (o["row"] + 1) * 28, o["col"] * 28 : (o["col"] + 1) * 28]
            feats.append(cell.mean((0, 1)))
            labels.append(o["class"])
    return np.array(feats), np.array(labels)


@pytest.mark.parametrize("look", ["classic", "lookalike"])
def test_close_pairs_are_the_confusable_ones(look):
    """A nearest-class-mean reader of a region's mean colour: on the look-alike frames it confuses
    Gallbladder with Cystic Plate more often than Abdominal Wall Cavity with Cystic Plate, and no class is named by
    one colour; on the classic frames every class is."""
    x, y = _cell_means(look, 60, 1)
    xt, yt = _cell_means(look, 30, 2)

    def pair_accuracy(a, b):
        ca, cb = x[y == a].mean(0), x[y == b].mean(0)
        m = np.isin(yt, [a, b])
        pred = np.where(np.linalg.norm(xt[m] - ca, axis=1) < np.linalg.norm(xt[m] - cb, axis=1), a, b)
        return (pred == yt[m]).mean()

    close, far = pair_accuracy("Gallbladder", "Cystic Plate"), pair_accuracy("Abdominal Wall Cavity", "Cystic Plate")
    if look == "classic":
        assert close == far == 1.0
    else:
        assert far > 0.97
        assert close < far - 0.05


def test_lookalike_colour_words_are_region_colours_and_parse():
    colours = anatomy_colours("lookalike")
    assert set(colours.values()) <= set(REGION_COLOURS)
    assert len(set(colours.values())) < len(colours)  # look-alike classes share a colour word


def _draws(draw, n=60000):
    rng = random.Random(0)
    return [(a, frozenset(draw(a, rng))) for a in (ANATOMY_CLASSES[i % 6] for i in range(n))]


def _option_only_accuracy(draws):
    """Accuracy of the best reader of the option set alone (the answer most often drawn with each set)."""
    by_set = Counter(draws)
    best = {}
    for (_answer, o), k in by_set.items():
        best[o] = max(best.get(o, 0), k)
    return sum(best.values()) / len(draws)


def test_spread_options_widen_s_q_and_keep_the_answer_hidden():
    uni, spr = _draws(uniform_options), _draws(spread_options)

    def within_answer_std(draws):
        vals = {}
        for a, o in draws:
            vals.setdefault(a, []).append(set_closeness(a, tuple(o), TABLE))
        return np.mean([np.std(v) for v in vals.values()])

    assert within_answer_std(spr) > 1.2 * within_answer_std(uni)
    # the options alone name the answer no more often than chance (1/4), within sampling noise
    assert abs(_option_only_accuracy(spr) - 0.25) < 0.015
    assert abs(_option_only_accuracy(uni) - 0.25) < 0.015
    weights = spread_weights()
    for c in ANATOMY_CLASSES:
        assert sum(w for o, w in weights.items() if c in o) == pytest.approx(1.0)
    assert min(weights.values()) > 0  # every set stays in use
    o = spread_options("Liver", random.Random(3))
    assert len(o) == 4 and len(set(o)) == 4 and "Liver" in o


def test_a_per_answer_draw_would_leak_the_answer():
    """The draw the module docstring warns against: the nearest set to a closeness drawn per answer."""

    def per_answer(answer, rng):
        sets = [o for o in itertools.combinations(ANATOMY_CLASSES, 4) if answer in o]
        scored = sorted((set_closeness(answer, o, TABLE), o) for o in sets)
        target = rng.uniform(scored[0][0], scored[-1][0])
        return min(scored, key=lambda so: abs(so[0] - target))[1]

    assert _option_only_accuracy(_draws(per_answer)) > 0.3


def test_lookalike_benchmark_rows(tmp_path):
    cfg = SyntheticConfig(
        out_dir=str(tmp_path),
        seed=5,
        train=24,
        val=8,
        test=8,
        look="lookalike",
        options="spread",
        image_position="last",
    )
    manifest = generate(cfg, progress=False)
    assert manifest["config"]["look"] == "lookalike" and manifest["config"]["options"] == "spread"
    rows = pq.read_table(tmp_path / "train.parquet").to_pylist()
    colours = anatomy_colours("lookalike")
    for row in rows:
        meta = row_meta(row)
        scene = meta["scene"]
        for o in scene["objects"]:
            if o["kind"] == "anatomy":
                assert o["colour"] == colours[o["class"]]
        program = parse_question(row["extra_info"]["question"])
        assert program is not None, row["extra_info"]["question"]
        assert execute(meta["program"], scene) == [row["extra_info"]["answer"]]
    # the classic look is unchanged by the new settings' defaults
    with pytest.raises(ValueError, match="unknown look"):
        SyntheticConfig(out_dir=str(tmp_path), look="pastel").validate()


def test_the_lookalike_preset_asks_zero_hop_questions_unless_a_mix_is_given(tmp_path):
    import json

    from data_prep.synthetic import main

    def made(out, *flags):
        assert (
            main(
                [
                    "--out",
                    str(out),
                    "--seed",
                    "3",
                    "--train",
                    "40",
                    "--val",
                    "0",
                    "--test",
                    "0",
                    "--no-progress",
                    *flags,
                ]
            )
            == 0
        )
        config = json.loads((out / "manifest.json").read_text())["config"]
        families = Counter(r["extra_info"]["question_type"] for r in pq.read_table(out / "train.parquet").to_pylist())
        return config, families

    config, families = made(tmp_path / "preset", "--lookalike")
    assert (config["look"], config["options"], config["image_position"]) == ("lookalike", "spread", "last")
    assert set(families) == {"zero_hop"} and config["family_weights"]["one_hop"] == 0.0
    config, families = made(tmp_path / "mixed", "--lookalike", "--family-weights", "zero_hop=1,one_hop=1")
    assert set(families) == {"zero_hop", "one_hop"}
    config, families = made(tmp_path / "classic")
    assert config["look"] == "classic" and len(families) > 2  # the default mix, as before
