"""Converters of the real data sets (SSG-VQA, OmniMedVQA, the authors' ms-swift JSON) on tiny fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from anatomy_r1_verl.schema import ANATOMY_CLASSES, LETTERS, parse_options
from data_prep import omnimedvqa, ssgvqa, swift_json
from data_prep.common import ConfigError, ConversionError

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- fixtures


def png(path: Path, size=(16, 12), color=(200, 40, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


SSG_LINES = [
    "what is the anatomy at the top left?|liver|query_component|zero_hop",
    "what is the color of the liver?|red|query_color|one_hop",
    "which anatomy is grasped by the grasper?|gallbladder|query_component|one_hop",
    "is there a hook?|True|exist|zero_hop",
    "what is below the gallbladder?|cystic_plate|query_component|single_and",
    "how many tools are there?|2|count|zero_hop",
]  # 3 anatomy answers, 3 others per frame


def make_ssg(root: Path, videos=("VID01", "VID02", "VID05", "VID06"), frames=2, lines=SSG_LINES) -> Path:
    for v in videos:
        for f in range(frames):
            frame = f"{f:06d}"
            txt = root / "qa_txt" / v / f"{frame}.txt"
            txt.parent.mkdir(parents=True, exist_ok=True)
            txt.write_text(f"frame {frame}\nquestion|answer|type|complexity\n" + "\n".join(lines) + "\n")
            png(root / "data" / v / f"{frame}.png", color=(10 * f, 100, 50))
    return root


def read_rows(path: Path) -> list[dict]:
    return pd.read_parquet(path).to_dict("records")


def omni_record(i: int, modality="CT(Computed Tomography)", n_opts=4, image=None, **over) -> dict:
    opts = ["Liver", "Spleen", "Kidney", "Pancreas"][:n_opts]
    rec = {
        "dataset": "DsA",
        "question_id": f"DsA_{i:04d}",
        "question_type": "Anatomy Identification",
        "question": f"Which organ is shown ({i})?",
        "gt_answer": opts[i % n_opts],
        "image_path": image or f"Images/DsA/{i}.png",
        "modality_type": modality,
        "unknown_extra": [1, 2],
    }
    for L, o in zip("ABCD", opts):
        rec[f"option_{L}"] = o
    rec.update(over)
    return rec


def make_omni(root: Path, open_recs: list[dict], restricted_recs: list[dict] | None = None) -> Path:
    for sub, recs, name in (("Open-access", open_recs, "DsA.json"), ("Restricted-access", restricted_recs, "DsB.json")):
        if recs is None:
            continue
        d = root / "QA_information" / sub
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(json.dumps(recs))
        for r in recs:
            if isinstance(r, dict) and isinstance(r.get("image_path"), str) and not (root / r["image_path"]).exists():
                png(root / r["image_path"])
    return root


AUTHORS = "/home/authors/datasets/SSG-VQA/data"


def swift_record(i: int, letter="B", answer=None, image=None, **over) -> dict:
    opts = ["Liver", "Gallbladder", "Gut", "Omentum"]
    answer = opts[LETTERS.index(letter)] if answer is None else answer
    opt_lines = "\n".join(f"{L}. {o}" for L, o in zip("ABCD", opts))
    rec = {
        "instruction": f"<image>What is the anatomy at the top left of frame {i}?\nAnatomy Options:\n{opt_lines}\n"
        "First output the thinking process in <think> </think> tags and then output the final "
        "answer in <answer> </answer> tags.",
        "sft_prompt": f"<image>What is the anatomy at the top left of frame {i}?\nAnatomy Options:\n{opt_lines}",
        "solution": letter,
        "answer": answer,
        "images": image if image is not None else f" {AUTHORS}/VID01/{i:06d}.png",
    }
    rec.update(over)
    return rec


def make_swift(tmp: Path, records, n_images=4, name="release.json") -> tuple[Path, Path]:
    img_root = tmp / "SSG-VQA"
    for i in range(n_images):
        png(img_root / "data" / "VID01" / f"{i:06d}.png")
    js = tmp / name
    js.write_text(records if isinstance(records, str) else json.dumps(records))
    return js, img_root


def assert_counts(summary: dict) -> None:
    assert summary["read"] == summary["written"] + summary["rejected"] + summary["filtered"]
    assert summary["written"] == sum(summary["splits"].values())
    saved = json.loads((Path(summary["out_dir"]) / "summary.json").read_text())
    assert saved["read"] == summary["read"] and saved["written"] == summary["written"]


def rejects(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / "rejects.jsonl").read_text().splitlines()]


# --------------------------------------------------------------------------- SSG-VQA


def test_ssgvqa_converts_with_official_splits(tmp_path):
    root = make_ssg(tmp_path / "ssg")
    s = ssgvqa.convert(root, tmp_path / "out", show_progress=False)
    assert_counts(s)
    assert s["read"] == 4 * 2 * 6 and s["written"] == 4 * 2 * 3 and s["filtered"] == 4 * 2 * 3
    assert s["filtered_by_reason"] == {"answer is not a kept anatomy class": 24}
    assert s["splits"] == {"train": 12, "val": 6, "test": 6}  # VID01 val, VID02 test, VID05/06 train
    videos = {}
    for split in ("train", "val", "test"):
        for row in read_rows(tmp_path / "out" / f"{split}.parquet"):
            ex, meta = row["extra_info"], json.loads(row["extra_info"]["meta"])
            videos.setdefault(meta["video"], set()).add(split)
            assert row["data_source"] == "ssgvqa" and ex["split"] == split
            opts = list(ex["options"])
            assert len(opts) == 4 and len(set(opts)) == 4 and set(opts) <= set(ANATOMY_CLASSES)
            assert opts[LETTERS.index(row["reward_model"]["ground_truth"])] == ex["answer"] == meta["answer_class"]
            assert parse_options(row["prompt"][0]["content"]) == opts
            assert ex["question_type"] == meta["question_type"] == "query_component"
            assert meta["complexity"] in {"zero_hop", "one_hop", "single_and"}
            assert meta["source_file"].startswith(f"qa_txt/{meta['video']}/") and meta["line"] >= 3
            img = row["images"][0]["image"]
            assert os.path.isabs(img) and img.endswith(f"{meta['video']}/{meta['frame']}.png")
    assert videos == {"VID01": {"val"}, "VID02": {"test"}, "VID05": {"train"}, "VID06": {"train"}}
    cs = {json.loads(r["extra_info"]["meta"])["answer_raw"] for r in read_rows(tmp_path / "out" / "train.parquet")}
    assert cs == {"liver", "gallbladder", "cystic_plate"}


def test_ssgvqa_lines_with_more_than_four_fields(tmp_path):
    """Released files also have `question|answer|type1|type2|...` lines: fields 0 and 1 are still the
    question and the answer (as the authors' own loader reads them); the rest is kept in meta."""
    lines = [
        "There is a anatomy that is on the left side of the yellow omentum thing; what is it?"
        "|liver|query_component|single_and|NA"
    ]
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=1, lines=lines)
    s = ssgvqa.convert(root, tmp_path / "out", show_progress=False)
    assert s["written"] == 1 and s["rejected"] == 0
    row = read_rows(tmp_path / "out" / "train.parquet")[0]
    meta = json.loads(row["extra_info"]["meta"])
    assert row["extra_info"]["answer"] == "Liver" and row["extra_info"]["question"].endswith("what is it?")
    assert meta["complexity"] == "single_and" and meta["extra_fields"] == ["NA"]


def test_ssgvqa_options_are_deterministic_per_question(tmp_path):
    root = make_ssg(tmp_path / "ssg", frames=3)
    a = read_rows(Path(ssgvqa.convert(root, tmp_path / "a", show_progress=False)["files"]["train"]))
    b = read_rows(Path(ssgvqa.convert(root, tmp_path / "b", show_progress=False)["files"]["train"]))
    c = read_rows(Path(ssgvqa.convert(root, tmp_path / "c", seed=7, show_progress=False)["files"]["train"]))
    opts = lambda rows: [list(r["extra_info"]["options"]) for r in rows]  # noqa: E731
    assert opts(a) == opts(b)
    assert opts(a) != opts(c)
    assert len({tuple(o) for o in opts(a)}) > 1  # not the same option list everywhere


def test_ssgvqa_cli_split_override_no_video_in_two_splits(tmp_path, capsys):
    root = make_ssg(tmp_path / "ssg")
    rc = ssgvqa.main(
        [
            "--root",
            str(root),
            "--out",
            str(tmp_path / "out"),
            "--test-videos",
            "VID05",
            "--val-videos",
            "6,1",
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "read 48 = written 24 + rejected 0 + filtered 24" in capsys.readouterr().out
    seen = {}
    for split in ("train", "val", "test"):
        for r in read_rows(tmp_path / "out" / f"{split}.parquet"):
            seen.setdefault(json.loads(r["extra_info"]["meta"])["video"], set()).add(split)
    assert seen == {"VID05": {"test"}, "VID06": {"val"}, "VID01": {"val"}, "VID02": {"train"}}
    with pytest.raises(ConfigError, match="both test and val"):
        ssgvqa.convert(root, tmp_path / "x", test_videos=[5], val_videos=["VID05"], show_progress=False)


def test_ssgvqa_class_and_type_filters(tmp_path):
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=1)
    s = ssgvqa.convert(
        root,
        tmp_path / "out",
        answer_classes=["liver", "gallbladder", "gut", "omentum"],
        complexities=["zero_hop", "one_hop"],
        show_progress=False,
    )
    assert_counts(s)
    assert s["written"] == 2  # liver (zero_hop), gallbladder (one_hop); cystic_plate is no longer kept
    assert s["filtered_by_reason"] == {"answer is not a kept anatomy class": 4}
    rows = read_rows(tmp_path / "out" / "train.parquet")
    assert all(set(r["extra_info"]["options"]) == {"Liver", "Gallbladder", "Gut", "Omentum"} for r in rows)
    s = ssgvqa.convert(root, tmp_path / "out2", question_types=["count"], show_progress=False)
    assert s["written"] == 0 and s["filtered"] == 6 and s["files"] == {}
    with pytest.raises(ConfigError, match="num_options 5"):
        ssgvqa.convert(root, tmp_path / "x", answer_classes=["liver", "gut", "omentum", "gallbladder"], num_options=5)


def test_ssgvqa_similarity_distractors(tmp_path, monkeypatch):
    closeness = {"Cystic Plate": 0.9, "Liver": 0.8, "Omentum": 0.7, "Gut": 0.1, "Abdominal Wall Cavity": 0.0}
    calls = []

    def build_similarity(config=None):
        calls.append(config)
        return lambda a, b: 1.0 if a == b else closeness.get(b, 0.5) if a == "Gallbladder" else 0.5

    monkeypatch.setitem(
        sys.modules, "anatomy_r1_verl.ascl.difficulty", types.SimpleNamespace(build_similarity=build_similarity)
    )
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=2)
    ssgvqa.convert(
        root, tmp_path / "out", distractors="similarity", similarity_config={"lambda": 0.5}, show_progress=False
    )
    assert calls == [{"lambda": 0.5}]
    rows = [r for r in read_rows(tmp_path / "out" / "train.parquet") if r["extra_info"]["answer"] == "Gallbladder"]
    assert rows and all(
        set(r["extra_info"]["options"]) == {"Gallbladder", "Cystic Plate", "Liver", "Omentum"} for r in rows
    )
    assert json.loads(rows[0]["extra_info"]["meta"])["distractors"] == "similarity"


def test_ssgvqa_similarity_without_module_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "anatomy_r1_verl.ascl.difficulty", None)  # import fails
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=1)
    with pytest.raises(ConfigError, match="build_similarity.*--distractors random"):
        ssgvqa.convert(root, tmp_path / "out", distractors="similarity", show_progress=False)


@pytest.mark.parametrize("bad", ["missing_image", "unreadable_image", "malformed_line"])
def test_ssgvqa_bad_input_stops_or_is_rejected(tmp_path, bad):
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=2)
    txt = root / "qa_txt" / "VID05" / "000001.txt"
    if bad == "missing_image":
        (root / "data" / "VID05" / "000001.png").unlink()
        n_bad, where = 3, "line 3"  # every anatomy question of that frame
    elif bad == "unreadable_image":
        (root / "data" / "VID05" / "000001.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
        n_bad, where = 3, "line 3"
    else:
        lines = txt.read_text().splitlines()
        txt.write_text("\n".join(lines[:4] + ["a line without any separator"] + lines[4:]) + "\n")
        n_bad, where = 1, "line 5"
    with pytest.raises(ConversionError) as ei:
        ssgvqa.convert(root, tmp_path / "out", show_progress=False)
    msg = str(ei.value)
    assert "qa_txt/VID05/000001.txt" in msg and where in msg and "--skip-invalid" in msg
    assert ei.value.kind == bad.replace("unreadable", "bad")
    assert not (tmp_path / "out" / "train.parquet").exists()

    s = ssgvqa.convert(root, tmp_path / "out", skip_invalid=True, show_progress=False)
    assert_counts(s)
    assert s["rejected"] == n_bad and s["written"] == 6 - (n_bad if bad != "malformed_line" else 0)
    rej = rejects(tmp_path / "out")
    assert len(rej) == n_bad and rej[0]["file"] == "qa_txt/VID05/000001.txt" and rej[0]["where"] == where
    assert rej[0]["reason"] and isinstance(rej[0]["raw"], str)


def test_ssgvqa_help_runs_as_module():
    for mod in ("data_prep.ssgvqa", "data_prep.omnimedvqa", "data_prep.swift_json"):
        r = subprocess.run([sys.executable, "-m", mod, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "--skip-invalid" in r.stdout and "--out" in r.stdout
        assert "--verify" in r.stdout and "--image-workers" in r.stdout


def test_max_pixels_writes_resized_copies(tmp_path):
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=1)
    png(root / "data" / "VID05" / "000000.png", size=(64, 48))
    s = ssgvqa.convert(root, tmp_path / "out", max_pixels=300, show_progress=False)
    assert s["images"]["resized"] == 1
    img = read_rows(tmp_path / "out" / "train.parquet")[0]["images"][0]["image"]
    assert img == str((tmp_path / "out" / "images" / "VID05" / "000000.png").resolve())
    with Image.open(img) as im:
        assert im.size[0] * im.size[1] <= 300 and im.size[0] / im.size[1] == pytest.approx(64 / 48, rel=0.1)


# --------------------------------------------------------------------------- OmniMedVQA


def test_omnimedvqa_converts_2_to_4_options(tmp_path):
    recs = [omni_record(0, n_opts=2), omni_record(1, n_opts=3), omni_record(2), omni_record(3)]
    mri = [
        omni_record(
            i,
            modality="MR (Mag-netic Resonance Imaging)",
            dataset="DsB",
            question_id=f"B{i}",
            image_path=f"Images/DsB/{i}.png",
            question_type="Modality Recognition",
        )
        for i in range(3)
    ]
    root = make_omni(tmp_path / "omni", recs, mri)
    s = omnimedvqa.convert(root, tmp_path / "out", test_fraction=0.5, split_by="question", show_progress=False)
    assert_counts(s)
    assert s["written"] == 7 and s["rejected"] == s["filtered"] == 0
    rows = read_rows(tmp_path / "out" / "train.parquet") + read_rows(tmp_path / "out" / "test.parquet")
    by_id = {json.loads(r["extra_info"]["meta"])["original_id"]: r for r in rows}
    assert len(by_id["DsA_0000"]["extra_info"]["options"]) == 2
    assert len(by_id["DsA_0001"]["extra_info"]["options"]) == 3
    r = by_id["B2"]
    meta = json.loads(r["extra_info"]["meta"])
    assert r["data_source"] == "omnimedvqa" and r["extra_info"]["question_type"] == "Modality Recognition"
    assert meta["modality"] == "MR (Mag-netic Resonance Imaging)" and meta["access"] == "Restricted-access"
    assert meta["source_file"] == "QA_information/Restricted-access/DsB.json" and meta["record"] == 2
    assert r["extra_info"]["answer"] == "Kidney" and r["reward_model"]["ground_truth"] == "C"
    assert r["images"][0]["image"] == str((root / "Images/DsB/2.png").resolve())


def test_omnimedvqa_per_modality_split_fractions(tmp_path):
    ct = [omni_record(i) for i in range(40)]
    mr = [
        omni_record(i, modality="MR", question_id=f"MR{i}", image_path=f"Images/DsB/{i // 2}.png") for i in range(20)
    ]  # two questions per image
    root = make_omni(tmp_path / "omni", ct, mr)
    s = omnimedvqa.convert(root, tmp_path / "out", seed=3, show_progress=False)  # split by image, 0.2
    assert_counts(s)
    rows = {sp: read_rows(tmp_path / "out" / f"{sp}.parquet") for sp in ("train", "test")}
    mod = lambda r: json.loads(r["extra_info"]["meta"])["modality"]  # noqa: E731
    assert sum(mod(r) == "CT(Computed Tomography)" for r in rows["test"]) == 8
    assert sum(mod(r) == "MR" for r in rows["test"]) == 4  # 2 of 10 images, 2 questions each
    imgs = {sp: {r["images"][0]["image"] for r in rs} for sp, rs in rows.items()}
    assert not imgs["train"] & imgs["test"]
    again = omnimedvqa.convert(root, tmp_path / "again", seed=3, show_progress=False)
    assert again["splits"] == s["splits"]
    assert [r["extra_info"]["id"] for r in read_rows(tmp_path / "again" / "test.parquet")] == [
        r["extra_info"]["id"] for r in rows["test"]
    ]


def test_omnimedvqa_filters_are_counted(tmp_path):
    ct = [omni_record(i) for i in range(5)]
    mr = [omni_record(i, modality="MR", question_id=f"MR{i}", question_type="Disease Diagnosis") for i in range(3)]
    root = make_omni(tmp_path / "omni", ct, mr)
    rc = omnimedvqa.main(["--root", str(root), "--out", str(tmp_path / "out"), "--modality", "mr", "--no-progress"])
    assert rc == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["written"] == 3 and s["filtered"] == 5 and s["filtered_by_reason"] == {"modality_type not selected": 5}
    s = omnimedvqa.convert(
        root, tmp_path / "o2", question_types=["Disease Diagnosis"], datasets=["nope"], show_progress=False
    )
    assert s["written"] == 0 and s["filtered"] == 8


OMNI_BAD = {
    "missing_field": (lambda: omni_record(1, question=None), "record 1", "question"),
    "answer_not_in_options": (lambda: omni_record(1, gt_answer="Heart"), "record 1", "Heart"),
    "duplicate_id": (lambda: omni_record(1, question_id="DsA_0000"), "record 1", "duplicate id"),
    "missing_image": (lambda: omni_record(1, image_path="Images/nowhere.png"), "record 1", "image not found"),
    "no_options": (lambda: omni_record(1, option_C=None), "record 1", "without gaps"),
}


@pytest.mark.parametrize("kind", sorted(OMNI_BAD))
def test_omnimedvqa_bad_record(tmp_path, kind):
    make, where, words = OMNI_BAD[kind]
    root = make_omni(tmp_path / "omni", [omni_record(0), make(), omni_record(2)])
    if kind == "missing_image":
        (root / "Images/nowhere.png").unlink()
    with pytest.raises(ConversionError) as ei:
        omnimedvqa.convert(root, tmp_path / "out", show_progress=False)
    msg = str(ei.value)
    assert "QA_information/Open-access/DsA.json" in msg and where in msg and words in msg and "--skip-invalid" in msg
    assert ei.value.kind == kind
    s = omnimedvqa.convert(root, tmp_path / "out", skip_invalid=True, show_progress=False)
    assert_counts(s)
    assert (s["read"], s["written"], s["rejected"]) == (3, 2, 1) and s["rejected_by_kind"] == {kind: 1}
    (rej,) = rejects(tmp_path / "out")
    assert rej["where"] == where and rej["kind"] == kind and rej["raw"]["question_id"] in ("DsA_0001", "DsA_0000")


def test_omnimedvqa_bad_json_file(tmp_path):
    root = make_omni(tmp_path / "omni", [omni_record(0)], [omni_record(1, question_id="B1")])
    (root / "QA_information/Open-access/DsA.json").write_text('[{"question": "x",\n  "option_A": }]')
    with pytest.raises(ConversionError, match=r"Open-access/DsA.json, line 2 column 15 \(whole file\): invalid JSON"):
        omnimedvqa.convert(root, tmp_path / "out", show_progress=False)
    s = omnimedvqa.convert(root, tmp_path / "out", skip_invalid=True, show_progress=False)
    assert_counts(s)
    assert (s["read"], s["written"], s["rejected"]) == (2, 1, 1)  # the bad file counts as one rejected record


# --------------------------------------------------------------------------- the authors' release


def test_swift_json_converts_and_finds_images(tmp_path):
    recs = [
        swift_record(0, "B"),
        swift_record(1, "A", image=[f"{AUTHORS}/VID01/000001.png"]),
        swift_record(2, "D", id="q2", question_type="location"),
    ]
    js, img_root = make_swift(tmp_path, recs)
    s = swift_json.convert(js, tmp_path / "out", image_root=img_root, split="val", show_progress=False)
    assert_counts(s)
    assert s["splits"] == {"val": 3}
    rows = read_rows(tmp_path / "out" / "val.parquet")
    r0 = rows[0]
    ex, meta = r0["extra_info"], json.loads(r0["extra_info"]["meta"])
    assert r0["data_source"] == "anatomy_r1_release" and ex["split"] == "val"
    assert ex["question"] == "What is the anatomy at the top left of frame 0?"
    assert list(ex["options"]) == ["Liver", "Gallbladder", "Gut", "Omentum"]
    assert ex["answer"] == "Gallbladder" and r0["reward_model"]["ground_truth"] == "B"
    assert ex["instruction"].startswith("First output the thinking process")
    assert r0["prompt"][0]["content"].count("<image>") == 1
    assert r0["images"][0]["image"] == str(img_root / "data/VID01/000000.png")
    assert meta["original_image"].startswith(" /home/authors") and meta["record"] == 0
    assert rows[1]["images"][0]["image"] == str(img_root / "data/VID01/000001.png")
    assert rows[2]["extra_info"]["id"] == "q2" and rows[2]["extra_info"]["question_type"] == "location"
    # CLI, the project's instruction, keep-components
    rc = swift_json.main(
        [
            str(js),
            "--out",
            str(tmp_path / "o2"),
            "--image-root",
            str(img_root / "data"),
            "--keep-components",
            "2",
            "--instruction",
            "default",
            "--no-progress",
        ]
    )
    assert rc == 0
    r = read_rows(tmp_path / "o2" / "train.parquet")[0]
    assert r["images"][0]["image"] == str(img_root / "data/VID01/000000.png")
    assert "<answer> </answer> tags" in r["extra_info"]["instruction"]
    s = swift_json.convert(js, tmp_path / "o3", image_root=img_root, strip_components=4, show_progress=False)
    assert s["written"] == 3


def test_swift_json_sft_prompt_and_jsonl(tmp_path):
    rec = swift_record(0, "C")
    del rec["instruction"]
    js, img_root = make_swift(
        tmp_path, json.dumps(rec) + "\n\n" + json.dumps(swift_record(1)) + "\n{oops\n", name="rel.jsonl"
    )
    with pytest.raises(ConversionError, match=r"rel.jsonl, line 4: invalid JSON"):
        swift_json.convert(js, tmp_path / "out", image_root=img_root, show_progress=False)
    s = swift_json.convert(js, tmp_path / "out", image_root=img_root, skip_invalid=True, show_progress=False)
    assert_counts(s)
    assert (s["read"], s["written"], s["rejected"]) == (3, 2, 1)
    r = read_rows(tmp_path / "out" / "train.parquet")[0]
    assert r["extra_info"]["answer"] == "Gut" and r["extra_info"]["question"].startswith("What is the anatomy")


SWIFT_BAD = {
    "no_options": (lambda: swift_record(1, instruction="<image>What is it?\nFirst think."), "no 'A. ...' option"),
    "answer_not_in_options": (lambda: swift_record(1, answer="Heart"), "'Heart' is not among the options"),
    "unknown_letter": (lambda: swift_record(1, solution="E"), "'E' is not one of the option letters ABCD"),
    "answer_mismatch": (lambda: swift_record(1, solution="A", answer="Gut"), "disagrees with answer 'Gut'"),
    "duplicate_id": (lambda: swift_record(1, id="same"), "duplicate id 'same'"),
    "missing_image": (lambda: swift_record(1, image="/elsewhere/x/nothing.png"), "no trailing part"),
    "bad_image": (lambda: swift_record(1, image=f"{AUTHORS}/VID01/broken.png"), "cannot be read"),
}


@pytest.mark.parametrize("kind", sorted(SWIFT_BAD))
def test_swift_json_bad_record(tmp_path, kind):
    make, words = SWIFT_BAD[kind]
    first = swift_record(0, id="same") if kind == "duplicate_id" else swift_record(0)
    js, img_root = make_swift(tmp_path, [first, make(), swift_record(2)])
    (img_root / "data/VID01/broken.png").write_bytes(b"GIF89a garbage")
    with pytest.raises(ConversionError) as ei:
        swift_json.convert(js, tmp_path / "out", image_root=img_root, show_progress=False)
    msg = str(ei.value)
    assert f"{js}, record 1: " in msg and words in msg and "rejects.jsonl" in msg
    assert ei.value.kind == kind
    s = swift_json.convert(js, tmp_path / "out", image_root=img_root, skip_invalid=True, show_progress=False)
    assert_counts(s)
    assert (s["read"], s["written"], s["rejected"]) == (3, 2, 1)
    (rej,) = rejects(tmp_path / "out")
    assert rej["where"] == "record 1" and rej["file"] == str(js) and isinstance(rej["raw"], dict)


def test_swift_json_bad_json_file_and_cli_error(tmp_path, capsys):
    js, img_root = make_swift(tmp_path, '[{"instruction": "x"},\n oops]')
    rc = swift_json.main([str(js), "--out", str(tmp_path / "out"), "--image-root", str(img_root), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{js}, line 2 column 2 (whole file): invalid JSON" in err and "--skip-invalid" in err


# --------------------------------------------------------------------------- round trip


def test_written_parquet_loads_with_datasets_and_images_open(tmp_path):
    import datasets

    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=2)
    s = ssgvqa.convert(root, tmp_path / "out", show_progress=False)
    ds = datasets.load_dataset("parquet", data_files=s["files"]["train"])["train"]
    assert len(ds) == 6
    row = ds[0]
    assert row["prompt"][0]["role"] == "user" and row["prompt"][0]["content"].startswith("<image>")
    for r in ds:
        with Image.open(r["images"][0]["image"]) as im:
            im.load()
            assert im.size == (16, 12)


def test_rlhfdataset_round_trip_with_images(tmp_path):
    try:
        from anatomy_r1_verl.tiny import model as tiny_model  # installs the torchvision shim before verl imports it
    except ImportError as e:
        pytest.skip(f"anatomy_r1_verl.tiny.model not importable ({e}); images need a real processor")
    import asyncio

    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=1)
    png(root / "data" / "VID05" / "000000.png", size=(112, 112))
    s = ssgvqa.convert(root, tmp_path / "out", show_progress=False)
    tokenizer = tiny_model.build_tokenizer()
    processor = tiny_model.build_processor(tokenizer, 84)
    cfg = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "image_key": "images",
            "max_prompt_length": 2048,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": 1,
            "truncation": "error",
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    # the length filter runs the processor on every row with its image: a row whose image fails is dropped
    ds = RLHFDataset(s["files"]["train"], tokenizer, cfg, processor=processor)
    assert len(ds) == 3
    row = ds[0]
    assert row["reward_model"]["ground_truth"] in "ABCD" and row["extra_info"]["split"] == "train"
    images = [c for c in row["raw_prompt"][0]["content"] if c["type"] == "image"]
    assert len(images) == 1 and images[0]["image"].endswith("VID05/000000.png")
    imgs, _, _ = asyncio.run(RLHFDataset.process_multi_modal_info(row["raw_prompt"], image_patch_size=14, config=cfg))
    assert len(imgs) == 1
    text = processor.apply_chat_template(row["raw_prompt"], add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=imgs, return_tensors="pt")
    assert enc["pixel_values"].shape[0] > 0 and enc["image_grid_thw"].tolist() == [[1, 6, 6]]


# --------------------------------------------------------------------------- image checks (full decode, thread pool)


def noisy_image(path: Path, fmt: str, size=(64, 48)) -> Path:
    """An image whose pixel data spans most of the file (noise), so cutting it leaves a valid header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path, format=fmt)
    return path


def truncate(path: Path, keep: float = 0.6) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def image_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("image-check")]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image_is_rejected_naming_the_file(tmp_path, fmt):
    ext = ".jpg" if fmt == "JPEG" else ".png"
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=2)
    for f in ("000000", "000001"):
        (root / "data" / "VID05" / f"{f}.png").unlink()
        noisy_image(root / "data" / "VID05" / f"{f}{ext}", fmt)
    bad = truncate(root / "data" / "VID05" / f"000001{ext}")
    with Image.open(bad) as im:  # the header still reads; only decoding the pixels fails
        assert im.size == (64, 48)

    with pytest.raises(ConversionError) as ei:
        ssgvqa.convert(root, tmp_path / "out", image_ext=ext, show_progress=False)
    msg = str(ei.value)
    assert ei.value.kind == "bad_image" and str(bad) in msg and "truncated" in msg
    assert "qa_txt/VID05/000001.txt, line 3" in msg and "--skip-invalid" in msg
    assert not image_threads()  # the pool is shut down when the conversion stops

    s = ssgvqa.convert(root, tmp_path / "out", image_ext=ext, skip_invalid=True, show_progress=False)
    assert_counts(s)
    assert (s["written"], s["rejected"]) == (3, 3) and s["rejected_by_kind"] == {"bad_image": 3}
    assert s["images"] == {
        "distinct": 2,
        "unreadable": 1,
        "resized": 0,
        "max_pixels": None,
        "verify": "full",
        "workers": s["images"]["workers"],
    }
    rej = rejects(tmp_path / "out")
    assert [r["where"] for r in rej] == ["line 3", "line 5", "line 7"]
    assert all(r["file"] == "qa_txt/VID05/000001.txt" and str(bad) in r["reason"] for r in rej)
    assert not image_threads()


def test_verify_header_misses_a_truncated_jpeg(tmp_path):
    """Why the full decode is the default: PIL's verify() does not read a JPEG's pixel data."""
    root = make_ssg(tmp_path / "ssg", videos=("VID05",), frames=1)
    (root / "data" / "VID05" / "000000.png").unlink()
    truncate(noisy_image(root / "data" / "VID05" / "000000.jpg", "JPEG"))
    s = ssgvqa.convert(root, tmp_path / "out", image_ext=".jpg", verify="header", show_progress=False)
    assert s["written"] == 3 and s["images"]["verify"] == "header"
    with pytest.raises(ConversionError, match="truncated"):
        ssgvqa.convert(root, tmp_path / "out2", image_ext=".jpg", show_progress=False)
    with pytest.raises(ConfigError, match="--verify"):
        ssgvqa.convert(root, tmp_path / "out3", verify="fast", show_progress=False)
    with pytest.raises(ConfigError, match="--image-workers"):
        ssgvqa.convert(root, tmp_path / "out3", image_workers=-1, show_progress=False)


def _outputs(out: Path) -> tuple:
    """Everything a conversion wrote but its timings and worker count (resized paths made relative)."""
    import pyarrow.parquet as pq

    rows = {}
    for p in sorted(out.glob("*.parquet")):
        rows[p.name] = json.loads(json.dumps(pq.read_table(p).to_pylist()).replace(str(out), "<out>"))
    rej = (out / "rejects.jsonl").read_text() if (out / "rejects.jsonl").exists() else ""
    s = json.loads((out / "summary.json").read_text().replace(str(out), "<out>"))
    s.pop("seconds")
    s["images"].pop("workers")
    copies = (
        sorted(str(p.relative_to(out)) for p in (out / "images").rglob("*") if p.is_file())
        if (out / "images").exists()
        else []
    )
    return rows, rej, s, copies


def test_thread_pool_gives_the_same_output_as_one_worker_ssgvqa(tmp_path):
    root = make_ssg(tmp_path / "ssg", videos=("VID01", "VID02", "VID05", "VID06"), frames=6)
    d = root / "data"
    (d / "VID05" / "000002.png").unlink()  # missing
    (d / "VID05" / "000003.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")  # unreadable
    truncate(noisy_image(d / "VID06" / "000001.png", "PNG"))  # truncated
    for f in range(3):
        png(d / "VID02" / f"{f:06d}.png", size=(40, 30), color=(f, 5, 5))  # resized under max_pixels
    txt = root / "qa_txt" / "VID01" / "000004.txt"
    txt.write_text(txt.read_text() + "a malformed line\n")
    outs = []
    for workers in (0, 1, 3):
        s = ssgvqa.convert(
            root,
            tmp_path / f"w{workers}",
            skip_invalid=True,
            max_pixels=600,
            image_workers=workers,
            show_progress=False,
        )
        assert s["images"]["workers"] == workers and s["rejected"] == 3 * 3 + 1 and s["images"]["resized"] == 3
        outs.append(_outputs(tmp_path / f"w{workers}"))
    assert outs[0] == outs[1] == outs[2]
    assert not image_threads()


def test_thread_pool_gives_the_same_output_as_one_worker_json(tmp_path):
    recs = [omni_record(i, image=f"Images/DsA/{i % 7}.png") for i in range(30)]
    recs[4]["image_path"] = "Images/DsA/missing.png"
    recs[9]["option_C"] = None  # a bad record before its image is needed
    root = make_omni(tmp_path / "omni", recs, [omni_record(i, question_id=f"B{i}") for i in range(5)])
    (root / "Images/DsA/missing.png").unlink()
    truncate(noisy_image(root / "Images/DsA/3.png", "PNG"))
    swift = [swift_record(i, image=f"{AUTHORS}/VID01/{i % 5:06d}.png") for i in range(25)]
    swift[7]["images"] = "/elsewhere/nothing.png"
    js, img_root = make_swift(tmp_path, swift, n_images=5)
    truncate(noisy_image(img_root / "data" / "VID01" / "000002.png", "PNG"))
    for name, convert in (
        ("omni", lambda out, w: omnimedvqa.convert(root, out, skip_invalid=True, image_workers=w, show_progress=False)),
        (
            "swift",
            lambda out, w: swift_json.convert(
                js, out, image_root=img_root, skip_invalid=True, image_workers=w, show_progress=False
            ),
        ),
    ):
        outs = [(convert(tmp_path / f"{name}{w}", w), _outputs(tmp_path / f"{name}{w}"))[1] for w in (0, 1, 4)]
        assert outs[0] == outs[1] == outs[2], name
        kinds = outs[0][2]["rejected_by_kind"]
        assert kinds == (
            {"bad_image": 5, "missing_image": 1, "no_options": 1}
            if name == "omni"
            else {"bad_image": 4, "missing_image": 1}
        ), kinds  # record 7 lost its image


def test_prefetch_of_a_missing_image_gives_the_same_error(tmp_path):
    from data_prep.common import ImageStore, InvalidRecord

    missing = tmp_path / "nowhere" / "x.png"
    errors = []
    for workers in (0, 2):
        store = ImageStore(tmp_path / "out", workers=workers)
        key = store.prefetch(missing)
        assert key == str(missing)
        for _ in range(2):  # the failure is cached: checked once, same error again
            with pytest.raises(InvalidRecord) as ei:
                store.resolve(missing)
            errors.append((ei.value.kind, ei.value.reason))
        assert store.failed == 1 and store.distinct == 1
        store.close()
    assert set(errors) == {("missing_image", f"image not found: {missing}")}


def test_read_ahead_keeps_order_and_a_bounded_buffer(tmp_path):
    from data_prep.common import ImageStore, read_ahead

    for workers in (0, 2):
        store = ImageStore(tmp_path / "out", workers=workers)
        prepared = []

        def prepare(i):
            prepared.append(i)  # noqa: B023 (called in this iteration)
            return i * 10

        got = []
        for v in read_ahead(range(100), prepare, store, max_items=7):
            assert len(prepared) - len(got) <= (7 if workers else 1)  # never more than max_items ahead
            got.append(v)
        assert got == [i * 10 for i in range(100)]
        store.close()


def test_row_accounting_is_checked_even_under_python_O(tmp_path):
    """The read = written + rejected + filtered check is a real check (an `assert` vanishes under -O)."""
    code = f"""
from data_prep.common import ConversionRun
run = ConversionRun(source="t", out_dir={str(tmp_path / "out")!r}, splits=["train"])
with run.record("f.json", "record 0", {{}}):
    run.filter("not anatomy")
run.read += 1  # a converter that lost a record
try:
    run.finish()
except RuntimeError as e:
    print("refused:", e)
"""
    res = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120)
    assert "refused: converter bug in t: read 2 records but wrote 0, rejected 0 and filtered 1" in res.stdout, (
        res.stdout + res.stderr
    )
    assert not (tmp_path / "out" / "train.parquet").exists()
