"""Is converting 100,000 records bounded by image I/O? Measured on realistic generated fixtures.

Two cases, each generated in a temporary folder (removed afterwards, one case at a time):

- ``ssgvqa``: ``--ssg-lines`` question lines (default 100,000) in SSG-VQA's layout, 30 to 50
  questions a frame (mean 40; the SSG-VQA paper shows up to 50 a frame), about 30 % of them with an
  anatomy answer (rows written; the rest are filtered), over frames of 854x480 px (CholecT45's
  frame size) saved as PNG (zlib level 1): smooth tissue-like colour blobs, a dark vignette and mild
  noise, about 0.7 MB a frame like real endoscopic PNGs (not pure noise, not flat colour).
- ``omnimedvqa``: ``--omni-records`` OmniMedVQA-style records (default 30,000, not 100,000: a
  separate image per record at 100,000 would take ~2.5 GB of fixtures and about three times the
  run time), about 1.1 questions an image (as in OmniMedVQA: 128k questions, 118k images),
  a third each of 256x256 grey PNG (CT/MR slices), 512x512 grey JPEG (X-ray) and 384x384 colour
  JPEG (dermoscopy/fundus), in 13 dataset JSON files.

Distinct files are byte copies of a bank of generated images (``--bank`` per kind; generating and
encoding each one costs 40-60 ms), so each file is read from disk and decoded like a distinct image.

Before every pass each fixture file is written back and evicted from the page cache
(``os.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)``); residency is checked on a sample with
``fincore`` when it exists. Passes, in one run, in rounds (a, b, c, d, a, b, ...; ``--repeat``
rounds, the fastest run of each reported) so that a change in the machine's load hits all alike:

- (a) the full conversion (``--image-workers`` threads, ``--verify full``);
- (b) the image-only floor: an ``ImageStore`` with the same workers checking the same distinct
  files (those the rows of (a) refer to, in the same order) through ``read_ahead``, nothing else;
- (c) the Python-only pass: the same conversion with the image check stubbed out (benchmark only);
- (d) the same conversion checking images in the main thread (``--image-workers 0``, as before the
  pool); ``--no-sequential`` skips it.

"Bounded by image I/O" means (a)/(b) is close to 1 and (c)/(a) small.

    python benchmarks/bench_convert.py                     # both cases, ~6 minutes on 2 cores at load 4-6
    python benchmarks/bench_convert.py --case ssgvqa --ssg-lines 20000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import PIL
import pyarrow.parquet as pq
from PIL import Image

from data_prep import common, omnimedvqa, ssgvqa

ANATOMY = ["liver", "gallbladder", "cystic_plate", "gut", "omentum", "abdominal_wall_cavity"]
OTHER = [
    "grasper",
    "hook",
    "clipper",
    "bipolar",
    "irrigator",
    "scissors",
    "specimen_bag",
    "cystic_duct",
    "red",
    "yellow",
    "white",
    "brown",
    "0",
    "1",
    "2",
    "3",
    "True",
    "False",
]
TEMPLATES = [
    ("What is the anatomy {rel} the {obj}?", "query_component", "single_and"),
    ("What is the color of the {obj}?", "query_color", "zero_hop"),
    ("How many tools are {rel} the {obj}?", "count", "one_hop"),
    ("Is there a {obj} {rel} the hook?", "exist", "one_hop"),
    ("What is the {obj} doing to the anatomy that is {rel} the grasper?", "query_component", "single_or"),
    ("There is an anatomy that is {rel} the {obj}; what is it?", "query_component", "single_and"),
]
RELS = ["left of", "right of", "above", "below", "next to"]
OBJS = ["grasper", "hook", "liver", "gallbladder", "clipper", "omentum", "specimen bag", "yellow thing"]


# --------------------------------------------------------------------------- images


def endoscopic_frame(seed: int, w: int = 854, h: int = 480, noise: float = 2.5) -> np.ndarray:
    """Smooth reddish blobs and a gradient at 1/4 size, upsampled, a dark vignette, mild sensor noise."""
    r = np.random.default_rng(seed)
    sh, sw = h // 4, w // 4
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    img = np.empty((sh, sw, 3), np.float32)
    img[:] = r.uniform([120, 40, 30], [200, 90, 70])
    for _ in range(14):
        cx, cy, s = r.uniform(0, sw), r.uniform(0, sh), r.uniform(6, 50)
        amp = r.uniform(-80, 80) * np.array([1.0, 0.6, 0.5]) + r.uniform(-20, 20, 3)
        img += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))[..., None] * amp
    img += (xx / sw * r.uniform(-40, 40))[..., None]
    d = np.sqrt(((xx - sw / 2) / (sw * 0.55)) ** 2 + ((yy - sh / 2) / (sh * 0.62)) ** 2)
    img *= np.clip(1.6 - 1.2 * d, 0, 1)[..., None]
    small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    big = np.asarray(small.resize((w, h), Image.BICUBIC)).astype(np.int16)
    big = big + (r.normal(0, noise, big.shape) * (big > 8)).astype(np.int16)
    return np.clip(big, 0, 255).astype(np.uint8)


def medical_image(seed: int, n: int, colour: bool) -> np.ndarray:
    """A body-like ellipse with soft structures and noise (grey), or a round colour field (fundus/skin)."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    inside = (((xx - n / 2) / (n * 0.42)) ** 2 + ((yy - n / 2) / (n * 0.38)) ** 2) < 1
    img = np.where(inside, r.uniform(80, 120), 5.0).astype(np.float32)
    for _ in range(10):
        cx, cy, s = *r.uniform(n * 0.2, n * 0.8, 2), r.uniform(n / 50, n / 8)
        img += inside * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)) * r.uniform(-60, 120)
    img += r.normal(0, 5, (n, n)) * inside
    if colour:
        img = np.stack([img * 1.1, img * 0.6, img * 0.35], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(arr: np.ndarray, fmt: str) -> bytes:
    b = io.BytesIO()
    if fmt == "PNG":
        Image.fromarray(arr).save(b, format="PNG", compress_level=1)
    else:
        Image.fromarray(arr).save(b, format="JPEG", quality=90)
    return b.getvalue()


def write_files(paths_and_bytes) -> tuple[int, int]:
    n = size = 0
    for path, data in paths_and_bytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        n, size = n + 1, size + len(data)
    return n, size


# --------------------------------------------------------------------------- fixtures


def make_ssg(root: Path, n_lines: int, bank: int) -> dict:
    rng = random.Random(0)
    frames_bank = [encode(endoscopic_frame(i), "PNG") for i in range(bank)]
    per_frame, left = [], n_lines
    while left > 0:
        k = min(left, rng.randint(30, 50))
        per_frame.append(k)
        left -= k
    anatomy = 0
    files = []
    for i, k in enumerate(per_frame):
        video, frame = f"VID{1 + i // 100:02d}", f"{(i % 100) * 25:06d}"
        lines = [f"frame {frame}", "question|answer|type|complexity"]
        for _ in range(k):
            q, t1, t2 = rng.choice(TEMPLATES)
            if rng.random() < 0.3:
                ans, anatomy = rng.choice(ANATOMY), anatomy + 1
            else:
                ans = rng.choice(OTHER)
            lines.append(f"{q.format(rel=rng.choice(RELS), obj=rng.choice(OBJS))}|{ans}|{t1}|{t2}")
        txt = root / "qa_txt" / video / f"{frame}.txt"
        txt.parent.mkdir(parents=True, exist_ok=True)
        txt.write_text("\n".join(lines) + "\n")
        files.append((root / "data" / video / f"{frame}.png", frames_bank[i % bank]))
    n, size = write_files(files)
    return {
        "frames": n,
        "image_bytes": size,
        "lines": n_lines,
        "anatomy": anatomy,
        "per_frame": (min(per_frame[:-1] or per_frame), max(per_frame), n_lines / len(per_frame), per_frame[-1]),
    }


OMNI_KINDS = [  # (modality, size, colour, format)
    ("CT(Computed Tomography)", 256, False, "PNG"),
    ("MR (Mag-netic Resonance Imaging)", 256, False, "PNG"),
    ("X-Ray", 512, False, "JPEG"),
    ("Dermoscopy", 384, True, "JPEG"),
    ("Fundus Photography", 384, True, "JPEG"),
]
OMNI_SHARE = [1 / 6, 1 / 6, 1 / 3, 1 / 6, 1 / 6]  # a third each: grey PNG, grey JPEG, colour JPEG


def make_omni(root: Path, n_records: int, bank: int) -> dict:
    rng = random.Random(1)
    banks = [
        [encode(medical_image(1000 * k + i, n, colour), fmt) for i in range(bank)]
        for k, (_, n, colour, fmt) in enumerate(OMNI_KINDS)
    ]
    organs = ["Liver", "Spleen", "Kidney", "Pancreas", "Lung", "Heart", "Brain", "Stomach", "Retina", "Skin"]
    datasets: dict[tuple[str, str], list] = {}
    files, i_img, recs = [], 0, 0
    while recs < n_records:
        k = rng.choices(range(len(OMNI_KINDS)), OMNI_SHARE)[0]
        modality, _, _, fmt = OMNI_KINDS[k]
        ds = f"Ds{k}{rng.randrange(3 if k < 3 else 2)}"
        access = "Restricted-access" if ds in ("Ds31", "Ds41") else "Open-access"
        ext = ".png" if fmt == "PNG" else ".jpg"
        rel = f"Images/{ds}/{i_img:06d}{ext}"
        files.append((root / rel, banks[k][i_img % bank]))
        i_img += 1
        for _ in range(2 if rng.random() < 0.1 else 1):  # ~1.1 questions an image
            if recs == n_records:
                break
            opts = rng.sample(organs, rng.choice([2, 3, 4, 4, 4]))
            rec = {
                "dataset": ds,
                "question_id": f"{ds}_{recs:06d}",
                "question_type": "Anatomy Identification",
                "question": f"Which organ is shown in this {modality.split('(')[0].strip()} image?",
                "gt_answer": rng.choice(opts),
                "image_path": rel,
                "modality_type": modality,
            }
            rec.update({f"option_{L}": o for L, o in zip("ABCD", opts)})
            datasets.setdefault((access, ds), []).append(rec)
            recs += 1
    for (access, ds), items in datasets.items():
        d = root / "QA_information" / access
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{ds}.json").write_text(json.dumps(items, indent=1))
    n, size = write_files(files)
    return {"images": n, "image_bytes": size, "records": recs, "json_files": len(datasets)}


# --------------------------------------------------------------------------- page cache


def all_files(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, fs in os.walk(root) for f in fs]


def evict(root: Path) -> None:
    """Write back and drop every file under ``root`` from the page cache."""
    os.sync()
    for path in all_files(root):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def resident_share(paths: list[Path]) -> str:
    """Share of the sample's bytes in the page cache (``fincore``), or why it cannot be told."""
    if not shutil.which("fincore"):
        return "not checked (no fincore)"
    sample = [str(p) for p in paths[:: max(1, len(paths) // 200)]]
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--raw", "-o", "RES,SIZE", *sample], capture_output=True, text=True
    ).stdout.split()
    res, size = sum(map(int, out[0::2])), sum(map(int, out[1::2]))
    return f"{100 * res / max(size, 1):.1f}% of a {len(sample)}-file sample resident"


# --------------------------------------------------------------------------- passes


@contextmanager
def images_stubbed():
    """Image checks that do nothing (pass (c)): the pool, prefetch and resolve still run."""
    orig = common.ImageStore._check
    common.ImageStore._check = lambda self, path: (True, path, False)
    try:
        yield
    finally:
        common.ImageStore._check = orig


def image_only(paths: list[str], workers: int, out: Path) -> float:
    """Pass (b): the same store and read-ahead over the distinct files, nothing else."""
    store = common.ImageStore(out, workers=workers)
    t = time.perf_counter()
    for key in common.read_ahead(paths, store.prefetch, store):
        store.resolve(key)
    store.close()
    dt = time.perf_counter() - t
    assert store.failed == 0 and store.distinct == len(paths)
    return dt


def distinct_images(summary: dict) -> list[str]:
    seen: dict[str, None] = {}
    for f in summary["files"].values():
        for imgs in pq.read_table(f, columns=["images"]).column("images").to_pylist():
            seen.setdefault(imgs[0]["image"], None)
    return list(seen)


class Timer:
    """Wall time and this process's CPU time (all threads) of a block."""

    def __enter__(self):
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.t, time.process_time() - self.c
        self.load = os.getloadavg()[0]  # 1-minute load average at the end (this run included)

    def cpu_text(self) -> str:
        return f"CPU {self.cpu:4.1f} s = {self.cpu / self.wall:.2f} cores"


MAX_CA = 1 / 3  # "bounded by image I/O": Python (the conversion without image checks) at most a third of it


def run_case(name: str, root: Path, fixture_line: str, convert, workers: int, sequential: bool, repeat: int) -> None:
    print(fixture_line, flush=True)
    files = all_files(root)
    evict(root)
    print(f"  page cache after eviction: {resident_share(files)}", flush=True)
    unit = "lines" if name == "ssgvqa" else "records"
    paths: list[str] = []

    def full():
        s = convert(root, root.parent / f"out_{name}_a", image_workers=workers)
        paths[:] = distinct_images(s)  # the files (b) checks: those the rows refer to, in order
        return s

    def python_only():
        with images_stubbed():
            return convert(root, root.parent / f"out_{name}_c", image_workers=workers)

    passes = {"a": full, "b": lambda: image_only(paths, workers, root.parent / f"out_{name}_b"), "c": python_only}
    if sequential:
        passes["d"] = lambda: convert(root, root.parent / f"out_{name}_d", image_workers=0)
    runs: dict[str, list] = {k: [] for k in passes}
    for _ in range(repeat):  # rounds a, b, c, d, a, b, ...: a change in the machine's load hits every pass alike
        for key, fn in passes.items():
            evict(root)
            with Timer() as t:
                result = fn()
            runs[key].append((t, result))
    best = {k: min(v, key=lambda r: r[0].wall) for k, v in runs.items()}

    def head(key: str, label: str) -> str:
        t = best[key][0]
        walls = "/".join(f"{r[0].wall:.1f}" for r in runs[key])
        return f"  ({key}) {label:24s} {t.wall:6.2f} s (runs {walls} s, load {t.load:.1f})  {t.cpu_text()}"

    ta, s = best["a"]
    tb, tc = best["b"][0], best["c"][0]
    mb = sum(os.path.getsize(p) for p in paths) / 1e6
    print(
        f"{head('a', 'full conversion')}  {s['read'] / ta.wall:,.0f} {unit}/s read; {s['written']:,} rows over "
        f"{s['images']['distinct']:,} images; image checks {s['seconds']['images']:.1f} s summed over {workers} "
        f"threads, the converter waited {s['seconds']['image_wait']:.1f} s for them"
    )
    print(
        f"{head('b', 'image-only pass')}  {len(paths) / tb.wall:,.0f} images/s, {mb / tb.wall:.0f} MB/s "
        f"({len(paths):,} files, {mb:,.0f} MB)"
    )
    for key in "cd":
        if key in best:
            assert (best[key][1]["read"], best[key][1]["written"]) == (s["read"], s["written"])
    print(f"{head('c', 'Python-only pass')}  {s['read'] / tc.wall:,.0f} {unit}/s read")
    if sequential:
        td = best["d"][0]
        print(
            f"{head('d', 'sequential (0 workers)')}  {s['read'] / td.wall:,.0f} {unit}/s read; "
            f"(d)/(a) = {td.wall / ta.wall:.2f}"
        )
    ab, ca = ta.wall / tb.wall, tc.wall / ta.wall
    cpu_ab, cpu_ca = ta.cpu / tb.cpu, tc.cpu / ta.cpu
    # With every core decoding images, the parsing cannot hide behind the pool: its CPU time adds to the
    # wall time, so (a)/(b) - 1 is about Python's share. What bounds the conversion is the larger share.
    ok = ca <= MAX_CA and cpu_ca <= MAX_CA
    print(f"  (a)/(b) = {ab:.2f} wall, {cpu_ab:.2f} CPU time: the conversion against the image-only floor")
    print(
        f"  Python's share of the conversion (c)/(a) = {ca:.2f} wall, {cpu_ca:.2f} CPU time; image checks "
        f"the rest -> {'bounded by image I/O' if ok else 'NOT bounded by image I/O'}   "
        f"(criterion: (c)/(a) <= {MAX_CA:.2f} in wall and CPU time)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=("ssgvqa", "omnimedvqa", "all"), default="all")
    p.add_argument("--ssg-lines", type=int, default=100_000, help="SSG-VQA question lines (default 100,000)")
    p.add_argument("--omni-records", type=int, default=30_000, help="OmniMedVQA records (default 30,000)")
    p.add_argument("--bank", type=int, default=48, help="distinct generated images per kind (default 48)")
    p.add_argument(
        "--image-workers",
        type=int,
        default=None,
        help=f"pool threads (default: the converters' default, here {common.default_image_workers()})",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="rounds of the passes (a, b, c, d, a, b, ...); the fastest run of each is reported (default 2)",
    )
    p.add_argument("--no-sequential", action="store_true", help="skip pass (d)")
    p.add_argument("--tmp", default=None, help="folder for the fixtures (default: the system's temp folder)")
    a = p.parse_args(argv)
    workers = common.default_image_workers() if a.image_workers is None else a.image_workers
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bench_convert: {cpus} CPUs, load average {load:.2f} at start, "
        f"Python {sys.version.split()[0]}, Pillow {PIL.__version__}; image workers {workers}, verify full"
    )
    quiet = {"show_progress": False}
    for case in ("ssgvqa", "omnimedvqa"):
        if a.case not in (case, "all"):
            continue
        with tempfile.TemporaryDirectory(prefix="bench_convert_", dir=a.tmp) as tmp:
            root = Path(tmp) / case
            t = time.perf_counter()
            if case == "ssgvqa":
                f = make_ssg(root, a.ssg_lines, a.bank)
                lo, hi, mean, last = f["per_frame"]
                line = (
                    f"SSG-VQA: {f['lines']:,} question lines over {f['frames']:,} frames ({lo}-{hi} a frame, the "
                    f"last {last}, mean {mean:.1f}; {100 * f['anatomy'] / f['lines']:.0f}% anatomy answers), "
                    f"854x480 PNG, "
                    f"mean {f['image_bytes'] / f['frames'] / 1e3:,.0f} kB, {f['image_bytes'] / 1e9:.2f} GB "
                    f"(copies of {a.bank} generated frames); fixtures written in {time.perf_counter() - t:.0f} s"
                )

                def convert(r, out, **kw):
                    return ssgvqa.convert(r, out, test_videos=[], val_videos=[], **quiet, **kw)
            else:
                f = make_omni(root, a.omni_records, a.bank)
                line = (
                    f"OmniMedVQA-like: {f['records']:,} records in {f['json_files']} JSON files over "
                    f"{f['images']:,} images ({f['records'] / f['images']:.2f} questions an image; 256x256 grey "
                    f"PNG, 512x512 grey JPEG, 384x384 colour JPEG), mean "
                    f"{f['image_bytes'] / f['images'] / 1e3:,.0f} kB, {f['image_bytes'] / 1e9:.2f} GB "
                    f"(copies of {a.bank} generated images a kind); fixtures written in "
                    f"{time.perf_counter() - t:.0f} s"
                )

                def convert(r, out, **kw):
                    return omnimedvqa.convert(r, out, **quiet, **kw)

            run_case(case, root, line, convert, workers, not a.no_sequential, a.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
