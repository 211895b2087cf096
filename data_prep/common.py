"""What every real-data converter shares: bookkeeping of read/written/rejected/filtered rows, the
rejects file, image verification (each distinct path once), optional downscaling, parquet output,
the summary and progress bars.

A converter opens a :class:`ConversionRun`, wraps each input record in ``with run.record(...)``
and inside it either calls ``run.filter(reason)`` (left out by design), raises
:class:`InvalidRecord` (bad input) or calls ``run.build(...)`` (a valid row; ``run.emit`` later
gives it its split). Bad input stops the conversion with a :class:`ConversionError`, or with
``skip_invalid`` goes to ``<out>/rejects.jsonl``. ``run.finish()`` writes ``<out>/<split>.parquet``
and ``<out>/summary.json`` and checks ``read == written + rejected + filtered``.

Images are checked by a full decode (``--verify full``) in a thread pool (``--image-workers``): a
converter feeds its records through :func:`read_ahead`, whose ``prepare`` step parses a record
ahead of time and calls ``run.images.prefetch(path)``; inside ``run.record(...)`` it then records
the prepared outcome and calls ``run.images.resolve(key)``, which waits for that image's check.
Rows, rejects and messages are the same as checking each image when its row is reached.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from anatomy_r1_verl.schema import SchemaError, make_row

REJECTS_FILE = "rejects.jsonl"
SUMMARY_FILE = "summary.json"
IMAGES_DIR = "images"


class ConversionError(ValueError):
    """Bad input row: names the file, the line or record, the reason and what to do."""

    def __init__(self, file: str, where: str, kind: str, reason: str, out_dir: str | os.PathLike = "<out>"):
        self.file, self.where, self.kind, self.reason = str(file), str(where), kind, reason
        super().__init__(
            f"{file}, {where}: {reason}\n"
            f"  Fix the input, or rerun with --skip-invalid (skip_invalid=True) to write such rows to "
            f"{Path(out_dir) / REJECTS_FILE} and convert the rest."
        )


class ConfigError(ValueError):
    """Bad converter options or input layout (not a bad row)."""


class InvalidRecord(Exception):
    """Raised inside ``run.record(...)`` for a bad row; ``kind`` is a short code counted in the summary."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def attempt(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or the :class:`InvalidRecord` it raised: a record prepared ahead keeps its error
    until :meth:`ConversionRun.settle` raises it, in input order, inside ``run.record(...)``."""
    try:
        return fn(*args)
    except InvalidRecord as e:
        return e


def stable_rng_seed(*parts: Any) -> int:
    """A seed that depends only on ``parts`` (not on PYTHONHASHSEED)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode("utf-8"))


def progress(iterable: Iterable, *, enabled: bool = True, total: int | None = None, desc: str = "", unit: str = "it"):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, mininterval=0.5, dynamic_ncols=True)


# --------------------------------------------------------------------------- images

VERIFY_MODES = ("full", "header")


def default_image_workers() -> int:
    """Threads checking images: one per usable CPU, at most 8 (PIL decodes with the GIL released)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _has_own_verify(im) -> bool:
    from PIL import ImageFile

    return type(im).verify is not ImageFile.ImageFile.verify


class ImageStore:
    """Checks each distinct image path once (cached, failures too) and, with ``max_pixels``,
    writes a downscaled copy under ``<out>/images/`` (mirroring the path below ``mirror_root``).

    ``verify``: ``"full"`` (default) runs PIL's ``verify()`` where the format has one (PNG: chunk
    CRCs) and then decodes every pixel, as training will, so a truncated or corrupt file fails here;
    ``"header"`` only runs ``verify()`` (fast; misses e.g. a truncated JPEG).

    With ``workers`` > 0 the checks run in a thread pool: :meth:`prefetch` submits a path as soon
    as the converter knows it, :meth:`resolve` waits for its result. Results (and the summary
    counts, which cover resolved paths only) are the same as checking one path at a time in
    :meth:`resolve` (``workers=0``). Only small result tuples are kept, never decoded pixels.
    ``seconds`` is the time spent checking images (summed over threads), ``wait_seconds`` the
    time :meth:`resolve` waited for the pool."""

    def __init__(
        self,
        out_images: Path,
        max_pixels: int | None = None,
        mirror_root: str | os.PathLike | None = None,
        *,
        verify: str = "full",
        workers: int | None = None,
    ):
        if max_pixels is not None and max_pixels < 1:
            raise ConfigError(f"--max-pixels must be positive, got {max_pixels}")
        if verify not in VERIFY_MODES:
            raise ConfigError(f"--verify must be one of {', '.join(VERIFY_MODES)}, got {verify!r}")
        if workers is not None and workers < 0:
            raise ConfigError(f"--image-workers must be >= 0, got {workers}")
        self.out_images = Path(out_images)
        self.max_pixels = max_pixels
        self.mirror_root = os.path.abspath(mirror_root) if mirror_root else None
        self.verify = verify
        self.workers = default_image_workers() if workers is None else workers
        #: how many submitted checks :func:`read_ahead` keeps waiting in the pool
        self.ahead = max(8, 4 * self.workers)
        self._cache: dict[str, tuple[bool, Any, bool]] = {}  # resolved: (ok, path or (kind, reason), resized)
        self._futures: dict[str, Future] = {}  # prefetched, not resolved yet
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._submitted = self._completed = 0
        self.seconds = 0.0
        self.wait_seconds = 0.0
        self.resized = 0
        self.failed = 0

    # -- the converter's side
    def prefetch(self, path: str | os.PathLike) -> str:
        """Start checking ``path`` in the pool (no-op without workers or when known); returns the
        key to pass to :meth:`resolve` (the absolute path)."""
        key = os.path.abspath(os.fspath(path))
        if self.workers and key not in self._cache and key not in self._futures:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="image-check")
            self._futures[key] = self._pool.submit(self._timed_check, key)
            self._submitted += 1
        return key

    @property
    def backlog(self) -> int:
        """Submitted checks not finished yet."""
        return self._submitted - self._completed

    def resolve(self, path: str | os.PathLike) -> str:
        """Absolute path to store in the row (the original or its resized copy).

        Raises :class:`InvalidRecord` (``missing_image`` / ``bad_image``) when it cannot be read."""
        hit = self._cache.get(path) if type(path) is str else None
        if hit is None:
            key = os.path.abspath(os.fspath(path))
            hit = self._cache.get(key)
            if hit is None:
                fut = self._futures.pop(key, None)
                if fut is not None:
                    t0 = time.perf_counter()
                    hit = fut.result()
                    self.wait_seconds += time.perf_counter() - t0
                else:
                    hit = self._timed_check(key, pooled=False)
                self._cache[key] = hit
                if not hit[0]:
                    self.failed += 1
                elif hit[2]:
                    self.resized += 1
        if hit[0]:
            return hit[1]
        raise InvalidRecord(*hit[1])

    @property
    def distinct(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        """Stop the pool; remove resized copies of images that no row used (a conversion that stopped early)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        used = {v for ok, v, resized in self._cache.values() if ok and resized}
        for fut in self._futures.values():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                ok, value, resized = fut.result()
                if ok and resized and value not in used:
                    with contextlib.suppress(OSError):
                        os.unlink(value)
        self._futures.clear()

    # -- the checks
    def _timed_check(self, key: str, pooled: bool = True) -> tuple[bool, Any, bool]:
        t0 = time.perf_counter()
        try:
            return self._check(key)
        finally:
            dt = time.perf_counter() - t0
            with self._lock:
                self.seconds += dt
                if pooled:
                    self._completed += 1

    def _check(self, path: str) -> tuple[bool, Any, bool]:
        from PIL import Image

        if not os.path.isfile(path):
            return False, ("missing_image", f"image not found: {path}"), False
        try:
            im = Image.open(path)
            try:
                if self.verify == "header" or _has_own_verify(im):
                    im.verify()  # file structure (PNG: every chunk's CRC); the image cannot be used after it
                    if self.verify == "header" and self.max_pixels is None:
                        return True, path, False
                    im.close()
                    im = Image.open(path)
                if self.verify == "full":
                    im.load()  # decode every pixel, as training will: truncated or corrupt data fails here
                w, h = im.size
                if self.max_pixels is None or w * h <= self.max_pixels:
                    return True, path, False
                return True, self._resize(im, path), True
            finally:
                im.close()
        except Exception as e:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
            return False, ("bad_image", f"image cannot be read ({type(e).__name__}: {e}): {path}"), False

    def _resize(self, im, path: str) -> str:
        w, h = im.size
        scale = math.sqrt(self.max_pixels / (w * h))
        nw, nh = max(1, int(w * scale)), max(1, int(h * scale))
        fmt = im.format or "PNG"
        im.load()
        small = im.resize((nw, nh), resample=3)  # bicubic
        if self.mirror_root and (path + os.sep).startswith(self.mirror_root + os.sep):
            rel = os.path.relpath(path, self.mirror_root)
        else:
            rel = os.path.join("_other", f"{zlib.crc32(os.path.dirname(path).encode()):08x}", os.path.basename(path))
        dest = self.out_images / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "JPEG":
            small.save(dest, format=fmt, quality=95)
        else:
            small.save(dest, format=fmt)
        return str(dest.resolve())


T = TypeVar("T")
U = TypeVar("U")


def read_ahead(
    items: Iterable[T], prepare: Callable[[T], U], images: ImageStore, *, max_items: int = 1024
) -> Iterator[U]:
    """``prepare(item)`` for each item, in order, computed ahead of the consumer.

    ``prepare`` parses an item and calls ``images.prefetch`` for the image it will need, so the pool
    decodes images while the consumer works on earlier items. It reads ahead until ``images.ahead``
    checks are waiting in the pool or ``max_items`` items are buffered (memory stays bounded).
    ``prepare`` must not touch the run's counts: the consumer records each outcome, in order.
    Without workers it is ``map(prepare, items)``."""
    if not images.workers:
        for item in items:
            yield prepare(item)
        return
    buf: deque = deque()
    for item in items:
        buf.append(prepare(item))
        while buf and (images.backlog >= images.ahead or len(buf) >= max_items):
            yield buf.popleft()
    while buf:
        yield buf.popleft()


# --------------------------------------------------------------------------- the run


class ConversionRun:
    """Bookkeeping of one conversion; see the module docstring for the protocol."""

    def __init__(
        self,
        *,
        source: str,
        out_dir: str | os.PathLike,
        splits: Sequence[str],
        skip_invalid: bool = False,
        max_pixels: int | None = None,
        mirror_root: str | os.PathLike | None = None,
        options: Mapping[str, Any] | None = None,
        verify: str = "full",
        image_workers: int | None = None,
    ):
        self.source = source
        self.out_dir = Path(out_dir).resolve()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.splits = list(splits)
        self.skip_invalid = skip_invalid
        self.options = dict(options or {})
        self.images = ImageStore(
            self.out_dir / IMAGES_DIR, max_pixels, mirror_root, verify=verify, workers=image_workers
        )
        self.rows: dict[str, list[dict]] = {s: [] for s in self.splits}
        self.read = self.written = self.rejected = self.filtered = self.pending = 0
        self.filtered_by: Counter = Counter()
        self.rejected_by: Counter = Counter()
        self._outcomes = 0
        self._seen_ids: dict[str, str] = {}
        self._rejects_path = self.out_dir / REJECTS_FILE
        self._rejects_fh = None
        # outputs of an earlier run in the same folder must not pass for this run's
        self._rejects_path.unlink(missing_ok=True)
        self._t0 = time.perf_counter()

    # -- per record
    @contextlib.contextmanager
    def record(self, file: str, where: str, raw: Any) -> Iterator[None]:
        """One input record: counts it as read; an :class:`InvalidRecord` or ``SchemaError`` inside
        becomes a reject (or a :class:`ConversionError` without ``skip_invalid``)."""
        self.read += 1
        before = self._outcomes
        try:
            yield
        except InvalidRecord as e:
            self._reject(file, where, e.kind, e.reason, raw)
        except SchemaError as e:
            self._reject(file, where, "schema", str(e), raw)
        else:
            if self._outcomes != before + 1:
                raise RuntimeError(f"converter bug: {file}, {where} was neither built, filtered nor rejected")

    def settle(self, prepared: Any) -> Any:
        """Inside ``run.record(...)``: the outcome of a record prepared ahead (see :func:`read_ahead`).
        A string is a filter reason (recorded; returns None), an :class:`InvalidRecord` is raised (a
        reject), anything else is the prepared value, returned for the converter to build a row from."""
        if isinstance(prepared, InvalidRecord):
            raise prepared
        if isinstance(prepared, str):
            self.filter(prepared)
            return None
        return prepared

    def filter(self, reason: str) -> None:
        self.filtered += 1
        self.filtered_by[reason] += 1
        self._outcomes += 1

    def build(self, *, row_id: str, file: str, where: str, **row_kwargs: Any) -> dict:
        """A validated row (split and index are set by :meth:`emit`). Raises InvalidRecord on a duplicate id."""
        first = self._seen_ids.get(row_id)
        if first is not None:
            raise InvalidRecord("duplicate_id", f"duplicate id {row_id!r} (first seen at {first})")
        row = make_row(row_id=row_id, split="", index=0, **row_kwargs)
        self._seen_ids[row_id] = f"{file}, {where}"
        self.pending += 1
        self._outcomes += 1
        return row

    def emit(self, row: dict, split: str) -> None:
        if split not in self.rows:
            raise ConfigError(f"unknown split {split!r}; expected one of {self.splits}")
        extra = row["extra_info"]
        extra["split"] = split
        extra["index"] = len(self.rows[split])
        self.rows[split].append(row)
        self.pending -= 1
        self.written += 1

    def _reject(self, file: str, where: str, kind: str, reason: str, raw: Any) -> None:
        if not self.skip_invalid:
            self.images.close()
            raise ConversionError(file, where, kind, reason, self.out_dir)
        if self._rejects_fh is None:
            self._rejects_fh = open(self._rejects_path, "w", encoding="utf-8")
        rec = {"file": str(file), "where": where, "kind": kind, "reason": reason, "raw": raw}
        self._rejects_fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        self.rejected += 1
        self.rejected_by[kind] += 1
        self._outcomes += 1

    # -- end
    def finish(self) -> dict:
        self.images.close()
        if self._rejects_fh is not None:
            self._rejects_fh.close()
            self._rejects_fh = None
        if self.pending:
            raise RuntimeError(f"converter bug: {self.pending} built rows were never emitted")
        if self.read != self.written + self.rejected + self.filtered:  # a real check: `python -O` keeps it
            raise RuntimeError(
                f"converter bug in {self.source}: read {self.read} records but wrote {self.written}, "
                f"rejected {self.rejected} and filtered {self.filtered}; nothing was written to "
                f"{self.out_dir}. Please report it with the command line"
            )
        files: dict[str, str] = {}
        for split, rows in self.rows.items():
            path = self.out_dir / f"{split}.parquet"
            if rows:
                write_parquet(rows, path)
                files[split] = str(path)
            else:
                path.unlink(missing_ok=True)
        total_s = time.perf_counter() - self._t0
        summary = {
            "source": self.source,
            "out_dir": str(self.out_dir),
            "read": self.read,
            "written": self.written,
            "rejected": self.rejected,
            "filtered": self.filtered,
            "splits": {s: len(r) for s, r in self.rows.items()},
            "files": files,
            "rejects_file": str(self._rejects_path) if self.rejected else None,
            "rejected_by_kind": dict(sorted(self.rejected_by.items())),
            "filtered_by_reason": dict(sorted(self.filtered_by.items())),
            "images": {
                "distinct": self.images.distinct,
                "unreadable": self.images.failed,
                "resized": self.images.resized,
                "max_pixels": self.images.max_pixels,
                "verify": self.images.verify,
                "workers": self.images.workers,
            },
            # images: checking them, summed over the pool's threads; image_wait: the converter waiting for them
            "seconds": {
                "total": round(total_s, 3),
                "images": round(self.images.seconds, 3),
                "image_wait": round(self.images.wait_seconds, 3),
            },
            "options": self.options,
        }
        (self.out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
        return summary


def write_parquet(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- CLI helpers


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder: <split>.parquet, summary.json, rejects.jsonl, images/")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write bad rows to <out>/rejects.jsonl and convert the rest (default: stop at the first)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="downscale images above this many pixels (w*h); copies go under <out>/images/",
    )
    p.add_argument(
        "--verify",
        choices=VERIFY_MODES,
        default="full",
        help="image check: 'full' (default) decodes every image as training will, so truncated or "
        "corrupt files are caught now; 'header' only checks headers and PNG chunk CRCs with "
        "PIL's verify() (faster; misses e.g. a truncated JPEG)",
    )
    p.add_argument(
        "--image-workers",
        type=int,
        default=None,
        help=f"threads checking images while records are parsed (default: one per CPU, at most 8; "
        f"here {default_image_workers()}); 0 checks each image in the main thread",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def split_list(values: Sequence[str] | None) -> list[str] | None:
    """Repeatable and/or comma-separated CLI values -> flat list (None when not given)."""
    if values is None:
        return None
    return [v.strip() for item in values for v in str(item).split(",") if v.strip()]


def format_summary(s: Mapping[str, Any]) -> str:
    lines = [
        f"{s['source']}: read {s['read']} = written {s['written']} + rejected {s['rejected']} + filtered {s['filtered']}",
        "splits: " + ", ".join(f"{k}={v}" for k, v in s["splits"].items()),
    ]
    if s["filtered_by_reason"]:
        lines.append("filtered: " + ", ".join(f"{k}={v}" for k, v in s["filtered_by_reason"].items()))
    if s["rejected"]:
        lines.append(
            "rejected: "
            + ", ".join(f"{k}={v}" for k, v in s["rejected_by_kind"].items())
            + f" (see {s['rejects_file']})"
        )
    im, sec = s["images"], s["seconds"]
    lines.append(
        f"images: {im['distinct']} distinct, {im['unreadable']} unreadable, {im['resized']} resized "
        f"(verify {im['verify']}, {im['workers']} workers); {sec['total']:.1f}s total, "
        f"{sec['images']:.1f}s checking images, {sec['image_wait']:.1f}s waiting for them"
    )
    lines.append(
        f"wrote {', '.join(s['files'].values()) or 'no parquet (no rows)'} and {Path(s['out_dir']) / SUMMARY_FILE}"
    )
    return "\n".join(lines)


def run_cli(fn: Callable[..., dict], **kwargs: Any) -> int:
    """Run a converter for a ``main()``: print the summary, or the error; exit status 0 / 2."""
    try:
        summary = fn(**kwargs)
    except (ConversionError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    return 0


def load_json_list(run: ConversionRun, path: Path, rel: str) -> list | None:
    """The file's list of records, or None after rejecting the whole file (counted as one record)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as e:
        with run.record(rel, f"line {e.lineno} column {e.colno} (whole file)", None):
            raise InvalidRecord("bad_json", f"invalid JSON: {e.msg}") from e
        return None
    except (OSError, UnicodeDecodeError) as e:
        with run.record(rel, "whole file", None):
            raise InvalidRecord("bad_json", f"cannot read the file: {e}") from e
        return None
    if not isinstance(data, list):
        with run.record(rel, "whole file", None):
            raise InvalidRecord("bad_json", f"expected a JSON list of records, got {type(data).__name__}")
        return None
    return data
