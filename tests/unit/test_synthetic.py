"""The synthetic surgical-scene VQA generator: determinism, splits, answerability, images, loading."""

import argparse
import dataclasses
import hashlib
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from anatomy_r1_verl.schema import ANATOMY_CLASSES, LETTERS, row_meta
from anatomy_r1_verl.synthetic.generator import SPLITS, SyntheticConfig, generate, load_hf_dataset
from anatomy_r1_verl.synthetic.questions import (
    FAMILIES,
    POS_PHRASE,
    TEMPLATES,
    answer_positions,
    candidates,
    execute,
    parse_question,
    render_question,
    resolve,
    sample_programs,
    well_posed,
)
from anatomy_r1_verl.synthetic.scene import ANATOMY_STYLE, POSITIONS, relations, sample_layout
from data_prep.synthetic import main, parse_family_weights

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = dict(train=40, val=14, test=14, questions_per_frame=4)


def _gen(out, **kw) -> dict:
    return generate(SyntheticConfig(out_dir=str(out), **{**SMALL, **kw}), progress=False)


def _rows(out, split):
    return pq.read_table(os.path.join(out, f"{split}.parquet")).to_pylist()


def _all_rows(out):
    return [r for s in SPLITS for r in _rows(out, s)]


def _image_hashes(out):
    root = os.path.join(out, "images")
    return {
        os.path.relpath(os.path.join(d, f), root): hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
        for d, _, files in os.walk(root)
        for f in files
    }


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    _gen(out, seed=3)
    return str(out)


# ---------------------------------------------------------------- determinism and splits


def test_same_seed_gives_identical_files(bench, tmp_path):
    before = {s: open(os.path.join(bench, f"{s}.parquet"), "rb").read() for s in SPLITS}
    hashes = _image_hashes(bench)
    _gen(bench, seed=3)  # again, into the same folder
    assert {s: open(os.path.join(bench, f"{s}.parquet"), "rb").read() for s in SPLITS} == before
    assert _image_hashes(bench) == hashes
    # elsewhere: same rows up to the folder in the image paths, same images
    other = tmp_path / "other"
    _gen(other, seed=3)
    assert _image_hashes(other) == hashes
    strip = lambda rows, d: json.dumps(rows, sort_keys=True).replace(os.path.abspath(d), "<OUT>")  # noqa: E731
    assert strip(_all_rows(other), other) == strip(_all_rows(bench), bench)


def test_embedded_images_give_identical_parquet_bytes(tmp_path):
    for name in ("a", "b"):
        _gen(tmp_path / name, seed=5, embed_images=True)
    for s in SPLITS:
        assert (tmp_path / "a" / f"{s}.parquet").read_bytes() == (tmp_path / "b" / f"{s}.parquet").read_bytes()
    row = _rows(tmp_path / "a", "train")[0]
    img = row["images"][0]
    assert set(k for k, v in img.items() if v is not None) == {"bytes"}
    frame = row_meta(row)["frame_id"]
    assert img["bytes"] == (tmp_path / "a" / "images" / "train" / f"{frame}.png").read_bytes()


def test_different_seed_differs(bench, tmp_path):
    _gen(tmp_path, seed=4)
    assert _image_hashes(tmp_path) != _image_hashes(bench)
    assert [r["extra_info"]["question"] for r in _rows(tmp_path, "train")] != [
        r["extra_info"]["question"] for r in _rows(bench, "train")
    ]


def test_splits_share_no_frame(bench):
    frames, images, grids = {}, {}, {}
    for s in SPLITS:
        metas = [row_meta(r) for r in _rows(bench, s)]
        frames[s] = {m["frame_id"] for m in metas}
        images[s] = {r["images"][0]["image"] for r in _rows(bench, s)}
        grids[s] = {tuple(o["class"] for o in m["scene"]["objects"] if o["kind"] == "anatomy") for m in metas}
        assert all(p.startswith(os.path.join(bench, "images", s) + os.sep) for p in images[s])
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            assert not frames[a] & frames[b] and not images[a] & images[b] and not grids[a] & grids[b]
    hashes = _image_hashes(bench)
    assert len(set(hashes.values())) == len(hashes)


def test_counts_frames_and_manifest(bench):
    manifest = json.load(open(os.path.join(bench, "manifest.json")))
    assert manifest["seed"] == 3 and manifest["data_source"] == "synthetic_scene" and manifest["generator_version"]
    for s in SPLITS:
        rows = _rows(bench, s)
        assert len(rows) == SMALL[s] == manifest["splits"][s]["questions"]
        per_frame = {}
        for r in rows:
            per_frame.setdefault(r["images"][0]["image"], []).append(r)
        assert len(per_frame) == manifest["splits"][s]["frames"] == -(-SMALL[s] // 4)
        assert max(len(v) for v in per_frame.values()) == 4
        fams = {}
        for r in rows:
            fams[r["extra_info"]["question_type"]] = fams.get(r["extra_info"]["question_type"], 0) + 1
        assert fams == manifest["splits"][s]["families"]
        assert [r["extra_info"]["index"] for r in rows] == list(range(len(rows)))
        assert len({r["extra_info"]["id"] for r in rows}) == len(rows)
        assert {r["data_source"] for r in rows} == {"synthetic_scene"}


# ---------------------------------------------------------------- questions


def test_every_question_has_exactly_one_correct_option(bench):
    for row in _all_rows(bench):
        extra, meta = row["extra_info"], row_meta(row)
        scene, program = meta["scene"], meta["program"]
        options, answer = extra["options"], extra["answer"]
        assert execute(program, scene) == [answer]
        assert len(options) == 4 == len(set(options)) and set(options) <= set(ANATOMY_CLASSES)
        assert [o for o in options if o in execute(program, scene)] == [answer]
        assert extra["answer_letter"] == row["reward_model"]["ground_truth"] == LETTERS[options.index(answer)]
        assert f"\n{extra['answer_letter']}. {answer}\n" in row["prompt"][0]["content"]
        assert extra["question"] == render_question(program) and extra["question"] in row["prompt"][0]["content"]
        assert extra["question_type"] == program["family"]
        assert well_posed(program, scene)
        for clause in program.get("clauses") or ([program] if "anchor" in program else []):
            assert len(resolve(clause["anchor"], scene)) == 1  # "the X" names one object
        if program["family"] == "attribute_relation":
            assert "colour" in program["anchor"]
        json.dumps(program)  # JSON-serialisable


def test_every_template_renders_the_same_question(bench):
    seen_families = set()
    for row in _all_rows(bench):
        meta = row_meta(row)
        scene, program = meta["scene"], meta["program"]
        seen_families.add(program["family"])
        texts = set()
        for tid in range(len(TEMPLATES[program["family"]])):
            text = render_question(program, tid)
            parsed = parse_question(text)
            assert parsed == {**program, "template": tid}, text
            assert execute(parsed, scene) == [row["extra_info"]["answer"]]
            texts.add(text)
        assert len(texts) == len(TEMPLATES[program["family"]]) >= 2
    assert seen_families == set(FAMILIES)


def test_options_are_seeded_and_balanced(tmp_path):
    _gen(tmp_path, train=400, val=0, test=0)
    rows = _rows(tmp_path, "train")
    letters = [r["extra_info"]["answer_letter"] for r in rows]
    assert all(letters.count(x) > 60 for x in "ABCD")
    answers = {r["extra_info"]["answer"] for r in rows}
    assert answers == set(ANATOMY_CLASSES)
    assert not (tmp_path / "val.parquet").exists()
    # instrument-anchored questions occur, with both referring styles
    anchors = [
        c["anchor"]
        for r in rows
        for p in [row_meta(r)["program"]]
        for c in (p.get("clauses") or ([p] if "anchor" in p else []))
    ]
    assert any(a.get("kind") == "instrument" for a in anchors)
    assert any("pos" in a for a in anchors) and any("pos" not in a for a in anchors)


def _scene(classes, instruments=()):
    """A hand-made scene: 9 anatomy classes in cell order, instruments as (class, pos, colour)."""
    objs = [
        {
            "id": i,
            "kind": "anatomy",
            "class": c,
            "pos": POSITIONS[i],
            "row": i // 3,
            "col": i % 3,
            "colour": ANATOMY_STYLE[c][0],
        }
        for i, c in enumerate(classes)
    ]
    for j, (c, pos, colour) in enumerate(instruments):
        i = POSITIONS.index(pos)
        objs.append(
            {"id": 9 + j, "kind": "instrument", "class": c, "pos": pos, "row": i // 3, "col": i % 3, "colour": colour}
        )
    return {"grid": 3, "objects": objs, "relations": relations(objs)}


def test_executor_adjacent_cell_semantics_and_duplicates():
    L, G, C, U, Om, A = ANATOMY_CLASSES
    scene = _scene([L, G, C, U, Om, A, L, U, G], [("grasper", "center", "orange"), ("hook", "bottom-mid", "cyan")])
    assert execute({"family": "zero_hop", "pos": "mid-right"}, scene) == [A]
    grasper = {"kind": "instrument", "class": "grasper"}
    assert execute({"family": "one_hop", "rel": "above", "anchor": grasper}, scene) == [G]
    assert execute({"family": "one_hop", "rel": "below", "anchor": grasper}, scene) == [U]
    assert execute({"family": "one_hop", "rel": "left", "anchor": grasper}, scene) == [U]
    assert execute({"family": "one_hop", "rel": "right", "anchor": grasper}, scene) == [A]
    # not adjacent: nothing is "above" the top row
    assert execute({"family": "one_hop", "rel": "above", "anchor": {"kind": "anatomy", "class": C}}, scene) == []
    # two livers: "the anatomy above the liver" is ambiguous and is never generated
    liver = {"kind": "anatomy", "class": L}
    assert execute({"family": "one_hop", "rel": "right", "anchor": liver}, scene) == [G, U]
    progs = [p for _, p in candidates(scene, "one_hop")]
    assert liver not in [p["anchor"] for p in progs]
    assert {"kind": "anatomy", "class": L, "pos": "top-left"} in [p["anchor"] for p in progs]
    both = {
        "family": "single_and",
        "clauses": [
            {"rel": "above", "anchor": {"kind": "instrument", "class": "hook"}},
            {"rel": "right", "anchor": {"kind": "anatomy", "class": U, "pos": "mid-left"}},
        ],
    }
    assert execute(both, scene) == [Om]
    assert execute({"family": "attribute_relation", "rel": "left", "anchor": {"colour": "cyan"}}, scene) == [L]
    with pytest.raises(ValueError):
        execute({"family": "two_hop"}, scene)
    for fam in FAMILIES:
        for _, p in candidates(scene, fam):
            assert len(execute(p, scene)) == 1


def test_scene_relations_follow_cells():
    scene = sample_layout(np.random.default_rng(0))
    by_id = {o["id"]: o for o in scene["objects"]}
    for a, b in scene["relations"]["above"]:
        assert by_id[a]["row"] == by_id[b]["row"] - 1 and by_id[a]["col"] == by_id[b]["col"]
    for a, b in scene["relations"]["left"]:
        assert by_id[a]["col"] == by_id[b]["col"] - 1 and by_id[a]["row"] == by_id[b]["row"]
    assert sorted(scene["relations"]["below"]) == sorted([b, a] for a, b in scene["relations"]["above"])
    assert len([o for o in scene["objects"] if o["kind"] == "anatomy"]) == 9


def test_family_weights_select_families():
    scene = sample_layout(np.random.default_rng(1))
    progs = sample_programs(scene, 6, random.Random(0), {"zero_hop": 1.0})
    assert {p["family"] for p in progs} == {"zero_hop"} and len({p["pos"] for p in progs}) == 6
    with pytest.raises(ValueError, match="fewer than"):
        sample_programs(scene, 10, random.Random(0), {"zero_hop": 1.0})
    assert parse_family_weights("zero_hop=1,single_and=0.5")["single_and"] == 0.5
    with pytest.raises(argparse.ArgumentTypeError, match="bad family weight"):
        parse_family_weights("two_hop=1")


# ---------------------------------------------------------------- images and loading


def _nearest_class(rgb):
    return min(ANATOMY_STYLE, key=lambda c: sum((float(x) - y) ** 2 for x, y in zip(rgb, ANATOMY_STYLE[c][1])))


@pytest.mark.parametrize("size", [84, 168])
def test_images_have_size_and_class_colours(tmp_path, size):
    out = tmp_path
    _gen(out, train=24, val=4, test=4, image_size=size)
    checked = 0
    for row in _rows(out, "train")[::4]:
        scene = row_meta(row)["scene"]
        img = Image.open(row["images"][0]["image"])
        assert img.size == (size, size) and img.mode == "RGB"
        a = np.asarray(img)
        busy = {o["pos"] for o in scene["objects"] if o["kind"] == "instrument"}
        cell = size // 3
        for o in scene["objects"]:
            if o["kind"] != "anatomy" or o["pos"] in busy:
                continue
            y, x = o["row"] * cell, o["col"] * cell
            assert _nearest_class(a[y + cell // 2, x + cell // 2]) == o["class"]
            assert _nearest_class(a[y + 2 : y + cell - 2, x + 2 : x + cell - 2].reshape(-1, 3).mean(0)) == o["class"]
            checked += 1
    assert checked > 10


def test_load_hf_dataset(bench, tmp_path):
    dd = load_hf_dataset(bench, cache_dir=str(tmp_path / "hf"))
    assert set(dd) == set(SPLITS)
    assert {s: dd[s].num_rows for s in SPLITS} == {s: SMALL[s] for s in SPLITS}
    row = dd["train"][0]
    assert row["data_source"] == "synthetic_scene" and row["prompt"][0]["content"].startswith("<image>")
    assert os.path.exists(row["images"][0]["image"])
    with pytest.raises(FileNotFoundError):
        load_hf_dataset(str(tmp_path / "empty"))


def test_cli(tmp_path, capsys):
    assert (
        main(
            [
                "--out",
                str(tmp_path),
                "--train",
                "8",
                "--val",
                "4",
                "--test",
                "4",
                "--seed",
                "1",
                "--questions-per-frame",
                "2",
                "--family-weights",
                "zero_hop=1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "train 8 questions / 4 frames" in capsys.readouterr().out
    assert {r["extra_info"]["question_type"] for r in _all_rows(tmp_path)} == {"zero_hop"}
    res = subprocess.run(
        [sys.executable, "-m", "data_prep.synthetic", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and "--questions-per-frame" in res.stdout and "--embed-images" in res.stdout


def test_answer_positions_name_the_answer_cells_in_reading_order():
    L, G, C, U, Om, A = ANATOMY_CLASSES
    scene = _scene([L, G, C, U, Om, A, L, U, G], [("grasper", "center", "orange"), ("hook", "bottom-mid", "cyan")])
    assert answer_positions({"family": "zero_hop", "pos": "mid-right"}, scene) == ["mid-right"]
    grasper = {"kind": "instrument", "class": "grasper"}
    assert answer_positions({"family": "one_hop", "rel": "above", "anchor": grasper}, scene) == ["top-mid"]
    assert answer_positions({"family": "one_hop", "rel": "left", "anchor": grasper}, scene) == ["mid-left"]
    both = {
        "family": "single_and",
        "clauses": [
            {"rel": "above", "anchor": {"kind": "instrument", "class": "hook"}},
            {"rel": "right", "anchor": {"kind": "anatomy", "class": U, "pos": "mid-left"}},
        ],
    }
    assert answer_positions(both, scene) == ["center"]
    # two regions satisfy it (one class each side): reading order
    liver = {"kind": "anatomy", "class": L}
    assert answer_positions({"family": "one_hop", "rel": "right", "anchor": liver}, scene) == ["top-mid", "bottom-mid"]


def test_warmstart_target_names_the_answer_cell_for_every_family(tmp_path):
    from anatomy_r1_verl.schema import row_meta
    from anatomy_r1_verl.tiny.warmstart import target_response

    generate(SyntheticConfig(out_dir=str(tmp_path), seed=5, train=0, val=40, test=0), progress=False)
    rows = pq.read_table(tmp_path / "val.parquet").to_pylist()
    families = set()
    for row in rows:
        extra, meta = row["extra_info"], row_meta(row)
        families.add(meta["program"]["family"])
        grounded = target_response(extra)
        m = re.fullmatch(r"<think>The ([a-z-]+) is (.+)\.</think><answer>([A-D])</answer>", grounded)
        assert m, grounded
        pos = next(k for k, v in POS_PHRASE.items() if v == m.group(1))
        cell = next(o for o in meta["scene"]["objects"] if o["kind"] == "anatomy" and o["pos"] == pos)
        assert cell["class"] == m.group(2) == extra["answer"] and m.group(3) == extra["answer_letter"]
        legacy = target_response(extra, "answer")
        if meta["program"]["family"] != "zero_hop":
            assert legacy == f"<think>The answer is {extra['answer']}.</think><answer>{extra['answer_letter']}</answer>"
    assert families == set(FAMILIES)
    with pytest.raises(ValueError, match="grounded"):
        target_response(rows[0]["extra_info"], "free")


def test_warmstart_scan_target_reads_the_cells_up_to_the_answer_cell(tmp_path):
    from anatomy_r1_verl.tiny.warmstart import WarmstartConfig, target_response, train

    generate(SyntheticConfig(out_dir=str(tmp_path), seed=6, train=0, val=24, test=0), progress=False)
    lengths = set()
    for row in pq.read_table(tmp_path / "val.parquet").to_pylist():
        extra, meta = row["extra_info"], row_meta(row)
        scan = target_response(extra, "scan")
        think, letter = re.fullmatch(r"<think>(.+)</think><answer>([A-D])</answer>", scan).groups()
        sentences = re.findall(r"The ([a-z-]+) is ([A-Za-z ]+?)\.", think)
        assert think == " ".join(f"The {p} is {c}." for p, c in sentences)
        truth = {POS_PHRASE[o["pos"]]: o["class"] for o in meta["scene"]["objects"] if o["kind"] == "anatomy"}
        cell = answer_positions(meta["program"], meta["scene"])[0]
        # reading order from the top-left up to and including the answer's cell, which is written last
        assert sentences == [(POS_PHRASE[p], truth[POS_PHRASE[p]]) for p in POSITIONS[: POSITIONS.index(cell) + 1]]
        assert sentences[-1][1] == extra["answer"] and letter == extra["answer_letter"]
        assert target_response(extra, "scan", "text") == scan.replace(
            f"<answer>{letter}<", f"<answer>{extra['answer']}<"
        )
        lengths.add(len(sentences))
    assert len(lengths) > 3  # the answer cells spread over the grid
    extra = dict(row["extra_info"], meta=json.dumps({}))  # a row without the generator's scene graph
    with pytest.raises(ValueError, match="scene graph"):
        target_response(extra, "scan")
    with pytest.raises(ValueError, match="answer form"):
        target_response(row["extra_info"], "scan", "number")
    with pytest.raises(ValueError, match="--think must be one of"):
        train(WarmstartConfig(data_dir=str(tmp_path), out_dir=str(tmp_path / "m"), think="scna"))
    with pytest.raises(ValueError, match="--answer must be one of"):
        train(WarmstartConfig(data_dir=str(tmp_path), out_dir=str(tmp_path / "m"), answer="txt"))


def test_lookalike_groups_are_the_tables_connected_close_pairs(tmp_path):
    from anatomy_r1_verl.ascl.difficulty import DEFAULT_TABLE, ClosenessTable

    table = ClosenessTable(DEFAULT_TABLE)
    assert table.groups(0.7) == [
        ["Liver", "Gallbladder", "Cystic Plate"],
        ["Gut", "Omentum"],
        ["Abdominal Wall Cavity"],
    ]
    assert table.groups(0.9) == [
        ["Liver"],
        ["Gallbladder", "Cystic Plate"],
        ["Gut"],
        ["Omentum"],
        ["Abdominal Wall Cavity"],
    ]
    # a class added to the table joins the group of the class it is close to
    extra = tmp_path / "t.yaml"
    extra.write_text(DEFAULT_TABLE.read_text() + "  Cystic Duct:\n    Gallbladder: 0.8\n")
    assert ClosenessTable(extra).groups(0.7)[0] == ["Liver", "Gallbladder", "Cystic Plate", "Cystic Duct"]


def test_warmstart_eliminate_target_reads_the_group_the_listed_members_and_the_class(tmp_path):
    from anatomy_r1_verl.tiny.warmstart import target_response

    generate(SyntheticConfig(out_dir=str(tmp_path), seed=6, train=0, val=60, test=0, look="lookalike"), progress=False)
    kinds = set()
    for row in pq.read_table(tmp_path / "val.parquet").to_pylist():
        extra = row["extra_info"]
        text = target_response(extra, "eliminate", "text")
        think, answer = re.fullmatch(r"<think>(.+)</think><answer>(.+)</answer>", text).groups()
        scan = re.fullmatch(r"<think>(.+)</think><answer>.+</answer>", target_response(extra, "scan", "text"))[1]
        before = scan.rpartition(". The ")[0]
        assert think.startswith(before) and think.endswith(f"is {extra['answer']}.") and answer == extra["answer"]
        m = re.search(r"is ([A-Za-z ,]+) or ([A-Za-z ]+)\. Listed: ([A-Za-z ,]+)\.", think)
        if extra["answer"] == "Abdominal Wall Cavity":  # a group of its own: read at once, as in the scan
            assert m is None and think == scan
            kinds.add("alone")
            continue
        group = [*m[1].split(", "), m[2]]
        listed = m[3].split(", ")
        assert extra["answer"] in group and extra["answer"] in listed
        assert listed == [o for o in extra["options"] if o in group]  # in the options' order
        kinds.add("settled" if len(listed) == 1 else "fine cues")
    assert kinds == {"alone", "settled", "fine cues"}


def test_warmstart_check_target_asks_each_group_member_in_the_table_order(tmp_path):
    from anatomy_r1_verl.tiny.warmstart import lookalike_groups, target_response

    generate(SyntheticConfig(out_dir=str(tmp_path), seed=6, train=0, val=60, test=0, look="lookalike"), progress=False)
    kinds = set()
    for row in pq.read_table(tmp_path / "val.parquet").to_pylist():
        extra = row["extra_info"]
        think, answer = re.fullmatch(
            r"<think>(.+)</think><answer>(.+)</answer>", target_response(extra, "check", "text")
        ).groups()
        eliminate = re.fullmatch(r"<think>(.+)</think>.+", target_response(extra, "eliminate", "text"))[1]
        group = next(g for g in lookalike_groups() if extra["answer"] in g)
        assert answer == extra["answer"] and think.endswith(f"is {extra['answer']}.")
        if len(group) == 1:  # a group of its own: the same think as eliminate's
            assert think == eliminate
            kinds.add("alone")
            continue
        prefix = eliminate.partition(" Listed: ")[0]
        checks = re.findall(r"([A-Za-z ]+): (listed|not listed)\.", think[len(prefix) :])
        assert think.startswith(prefix) and [c.strip() for c, _ in checks] == list(group)
        assert {c.strip() for c, v in checks if v == "listed"} == set(group) & set(extra["options"])
        kinds.add("settled" if sum(v == "listed" for _, v in checks) == 1 else "fine cues")
    assert kinds == {"alone", "settled", "fine cues"}


def test_image_position_last_puts_the_image_after_the_instruction(tmp_path):
    from anatomy_r1_verl.evaluation.prompts import load_rows
    from anatomy_r1_verl.schema import DEFAULT_INSTRUCTION, build_prompt_text
    from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path

    first, last = tmp_path / "first", tmp_path / "last"
    _gen(first, seed=4)
    manifest = _gen(last, seed=4, image_position="last")
    assert manifest["config"]["image_position"] == "last"
    a, b = _rows(first, "val"), _rows(last, "val")
    assert [r["extra_info"] for r in a] == [r["extra_info"] for r in b]  # same questions, only the layout moves
    for ra, rb in zip(a, b):
        text_a, text_b = ra["prompt"][0]["content"], rb["prompt"][0]["content"]
        assert text_a.startswith("<image>") and text_b.endswith(DEFAULT_INSTRUCTION + "<image>")
        assert text_b.count("<image>") == 1 and text_a[len("<image>") :] == text_b[: -len("<image>")]
    ds, _ = load_rows(str(last / "val.parquet"), str(asset_path(DEFAULT_MODEL)), 2)
    assert [c["type"] for c in ds[0]["raw_prompt"][0]["content"]] == ["text", "image"]  # as verl renders it
    with pytest.raises(ValueError, match="image_position"):
        _gen(tmp_path / "bad", image_position="middle")
    with pytest.raises(ValueError, match="image_position"):
        build_prompt_text("q?", ["a", "b"], image_position="end")
    assert (
        main(
            [
                "--out",
                str(tmp_path / "cli"),
                "--train",
                "4",
                "--val",
                "0",
                "--test",
                "0",
                "--no-progress",
                "--image-position",
                "last",
            ]
        )
        == 0
    )
    assert _rows(tmp_path / "cli", "train")[0]["prompt"][0]["content"].endswith("<image>")


def test_demo_prompts_fit_the_demo_recipes_prompt_length(tmp_path):
    """The demo recipe turns verl's overlong-prompt filter off (it renders every prompt at each start): its own
    questions must fit data.max_prompt_length, images included, as verl's agent loop renders them."""
    from anatomy_r1_verl.commands.demo import demo_data_config
    from anatomy_r1_verl.evaluation.prompts import encode_prompts, load_rows
    from anatomy_r1_verl.launch.compose import compose

    cfg = compose("demo_cpu", [])
    assert cfg.data.filter_overlong_prompts is False
    demo = cfg.anatomy_r1.demo
    generate(dataclasses.replace(demo_data_config(cfg), out_dir=str(tmp_path), train=0, test=0), progress=False)
    ds, proc = load_rows(str(tmp_path / "val.parquet"), str(cfg.actor_rollout_ref.model.path))
    lengths = [encode_prompts(proc, [ds[i]["raw_prompt"]])["input_ids"].shape[1] for i in range(len(ds))]
    assert len(lengths) == int(demo.questions.val)
    assert max(lengths) <= int(cfg.data.max_prompt_length), max(lengths)  # measured: 130 of 320
