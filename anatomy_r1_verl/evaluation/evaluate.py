"""Offline evaluation: a model (HF directory or verl checkpoint) on test parquet files, every response scored
by the training reward function and kept, metrics with Wilson intervals written beside them.

:func:`run_eval` is ``anatomy-r1 eval`` (:mod:`anatomy_r1_verl.commands.evaluate`); :func:`evaluate` is the
in-process form the warm start and tests use on a loaded model."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

from anatomy_r1_verl.evaluation import inputs, results
from anatomy_r1_verl.evaluation.generate import GenerationConfig, HFEngine, generate
from anatomy_r1_verl.evaluation.prompts import load_rows
from anatomy_r1_verl.evaluation.scoring import DEFAULT_REWARD_KWARGS, row_fields, score


def response_records(
    model,
    processor,
    dataset,
    cfg: GenerationConfig,
    *,
    benchmark: str | dict = "",
    file: str = "",
    reward_kwargs: dict | None = None,
    progress: bool = True,
) -> list[dict]:
    """Generate and score: one record per response (see :mod:`.results`). ``benchmark`` is a name, or a map
    data_source -> name."""
    records = []
    for i, row, texts in generate(model, processor, dataset, cfg, progress=progress, desc=Path(file).name or "eval"):
        records += question_records(i, row, texts, benchmark, file, reward_kwargs)
    return records


def evaluate(model, processor, dataset, batch_size: int = 32, max_new_tokens: int = 64, progress: bool = True) -> dict:
    """Greedy accuracy and format rate over a dataset, overall and per question type (the warm start's check)."""
    cfg = GenerationConfig(batch_size=batch_size, max_new_tokens=max_new_tokens)
    recs = response_records(model, processor, dataset, cfg, benchmark="all", progress=progress)
    n = len(recs)
    by_type = defaultdict(list)
    for r in recs:
        by_type[r["question_type"] or "all"].append(r["acc"])
    return {
        "n": n,
        "acc": sum(r["acc"] for r in recs) / max(n, 1),
        "format": sum(r["format"] for r in recs) / max(n, 1),
        "acc_by_type": {k: sum(v) / len(v) for k, v in sorted(by_type.items())},
        "samples": [r["response"] for r in recs[:3]],
    }


def load_model(model_dir: str | Path, device: str = "cpu"):
    from transformers import AutoModelForImageTextToText

    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    return AutoModelForImageTextToText.from_pretrained(str(model_dir), dtype=dtype).to(device)


def evaluate_dir(model_dir: str, parquet: str, limit: int | None = None, batch_size: int = 32) -> dict:
    dataset, processor = load_rows(parquet, model_dir, limit)
    return evaluate(load_model(model_dir), processor, dataset, batch_size=batch_size)


def benchmark_names(parquets: list[str]) -> dict[str, dict[str, str]]:
    """file -> {data_source: benchmark name}: the data_source, with ``:<file stem>`` when two files share it."""
    import pyarrow.parquet as pq

    sources = {p: sorted(set(pq.read_table(p, columns=["data_source"]).column(0).to_pylist())) for p in parquets}
    count = Counter(s for ss in sources.values() for s in ss)
    return {p: {s: s if count[s] == 1 else f"{s}:{Path(p).stem}" for s in ss} for p, ss in sources.items()}


def run_provenance(model_src: str) -> dict:
    """Method (the run's experiment name) and seed (``data.seed``) of a verl checkpoint inside an
    ``anatomy-r1 train`` run dir (``runs/<experiment>/checkpoints/global_step_N[/actor]``), else {}."""
    actor = inputs.checkpoint_actor_dir(model_src)
    if actor is None:
        return {}
    step_dir = inputs.checkpoint_step_dir(actor)
    out = {"step": int(step_dir.name.split("_")[-1]) if step_dir.name.startswith("global_step_") else None}
    cfg = run_config(model_src)
    if cfg is not None:
        from omegaconf import OmegaConf

        from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config

        out["method"] = OmegaConf.select(cfg, "trainer.experiment_name", default=None)
        out["seed"] = OmegaConf.select(cfg, "data.seed", default=None)
        out["recipe"] = anatomy_r1_config(cfg).recipe
    return {k: v for k, v in out.items() if v is not None}


# the generation settings of a run's validation, read from its saved config: GenerationConfig field -> config key
RUN_GENERATION_KEYS = {
    "max_new_tokens": "actor_rollout_ref.rollout.response_length",
    "temperature": "actor_rollout_ref.rollout.val_kwargs.temperature",
    "top_p": "actor_rollout_ref.rollout.val_kwargs.top_p",
    "samples": "actor_rollout_ref.rollout.val_kwargs.n",
}


def run_config(model_src: str):
    """The saved ``config.yaml`` of the ``anatomy-r1 train`` run a verl checkpoint belongs to, or None."""
    actor = inputs.checkpoint_actor_dir(model_src)
    if actor is None:
        return None
    cfg_path = inputs.checkpoint_step_dir(actor).parent.parent / "config.yaml"
    if not cfg_path.is_file():
        return None
    from omegaconf import OmegaConf

    return OmegaConf.load(cfg_path)


def run_val_subset(model_src: str) -> dict | None:
    """How the run a checkpoint belongs to cut its validation files (``data.val_max_samples`` > 0), or None."""
    from omegaconf import OmegaConf

    cfg = run_config(model_src)
    n = OmegaConf.select(cfg, "data.val_max_samples", default=None) if cfg is not None else None
    if n is None or int(n) <= 0:
        return None
    files = OmegaConf.select(cfg, "data.val_files", default=[])
    files = [files] if isinstance(files, str) else list(files)
    return {
        "files": {os.path.abspath(f) for f in files},
        "max_samples": int(n),
        "shuffle": bool(OmegaConf.select(cfg, "data.shuffle", default=False)),
        "seed": OmegaConf.select(cfg, "data.seed", default=None),
    }


def generation_settings(model_src: str, given: dict) -> tuple[GenerationConfig, list[str]]:
    """The generation settings of an evaluation: each one given on the command line (``given``, None = not
    given), else the run's validation setting (so that ``eval`` of a checkpoint reproduces the trainer's
    ``val-core`` number), else :class:`GenerationConfig`'s default. Returns the config and one line per
    setting saying where it came from (and what a flag overrode)."""
    from omegaconf import OmegaConf

    cfg = run_config(model_src)
    run = {}
    if cfg is not None:
        for field, key in RUN_GENERATION_KEYS.items():
            v = OmegaConf.select(cfg, key, default=None)
            if field == "max_new_tokens" and v is None:
                v = OmegaConf.select(cfg, "data.max_response_length", default=None)
            if v is not None:
                run[field] = type(getattr(GenerationConfig, field))(v)
        if run.get("samples", 1) > 1 and run.get("temperature", 0) == 0:
            run.pop("samples")  # verl repeats a greedy validation n times; one answer is the same number
    values, notes = {}, []
    for field, v in given.items():
        if v is None and field in run:
            values[field] = run[field]
            notes.append(f"{field}={run[field]} (the run's {RUN_GENERATION_KEYS[field]})")
        elif v is not None:
            values[field] = v
            if field in run and run[field] != v:
                notes.append(f"{field}={v} (given; overrides the run's {RUN_GENERATION_KEYS[field]}={run[field]})")
    return GenerationConfig(**values), notes


def question_records(i: int, row: dict, texts: list[str], bench, file: str, reward_kwargs) -> list[dict]:
    """The scored records of one question's K responses (see :mod:`.results`)."""
    fields = row_fields(row)
    name = bench.get(fields["data_source"], fields["data_source"]) if isinstance(bench, dict) else bench
    out = []
    for k, text in enumerate(texts):
        rec = {"benchmark": name or fields["data_source"], "file": file, "row": i, **fields, "sample": k}
        rec["response"] = text
        rec.update(score(rec, reward_kwargs))
        out.append(rec)
    return out


def run_eval(
    model_src: str,
    parquets: list[str],
    out_dir: str | None = None,
    *,
    cfg: GenerationConfig,
    method: str | None = None,
    seed: int | None = None,
    limit: int | None = None,
    device: str = "cpu",
    merged_dir: str | None = None,
    reward_kwargs: dict | None = None,
    progress: bool = True,
    settings_from: list[str] | None = None,
    engine_factory: Callable | None = None,
    resume: bool = False,
) -> tuple[Path, dict]:
    """``anatomy-r1 eval``: check the inputs, merge a checkpoint if needed, start the engine
    (``engine_factory(model_dir)``; default: HF ``generate`` in this process), generate, score, write the folder.

    Answers are appended to ``responses.jsonl`` as questions finish; with ``resume`` the folder's complete
    answers are kept and only the missing questions generated."""
    cfg.validate()
    for p in parquets:
        inputs.check_parquet(p)
    prov = run_provenance(model_src)
    actor = inputs.checkpoint_actor_dir(model_src)
    merged = merged_dir or (str(inputs.checkpoint_step_dir(actor) / "merged_hf") if actor else "")
    model_dir = inputs.resolve_model(model_src, merged)
    inputs.check_model_dir(model_dir)
    method = method or prov.get("method") or model_dir.name
    seed = seed if seed is not None else int(prov.get("seed", 0))
    root = os.path.abspath(os.path.expanduser(os.environ.get("ANATOMY_R1_OUTPUT_DIR", "outputs")))
    out = Path(out_dir) if out_dir else Path(root) / "evals" / method / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    reward_kwargs = DEFAULT_REWARD_KWARGS if reward_kwargs is None else reward_kwargs
    files = [os.path.abspath(p) for p in parquets]
    samples = 1 if cfg.temperature == 0 else cfg.samples
    subset = run_val_subset(model_src) if limit is None else None
    contract = {
        "model_dir": str(model_dir),
        "files": files,
        "limit": limit,
        "val_subset": subset["max_samples"] if subset and subset["files"] & set(files) else None,
        "samples": samples,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        "sampling_seed": cfg.seed,
    }
    log = results.ResponseLog(out, contract, samples, resume=resume)
    for note in log.notes:
        print(f"[anatomy-r1 eval] {note}", flush=True)
    resumed = len(log.records) // samples

    t0 = time.time()
    engine = engine_factory(model_dir) if engine_factory else HFEngine(load_model(model_dir, device))
    startup_s = time.time() - t0
    names = benchmark_names(parquets)
    generated, t1 = 0, time.time()
    try:
        for p, file in zip(parquets, files):
            if subset and file in subset["files"]:
                n, shuffle, dseed = subset["max_samples"], subset["shuffle"], subset["seed"]
                print(
                    f"[anatomy-r1 eval] {p}: the {n} questions the run validated on (data.val_max_samples={n}, "
                    f"data.shuffle={shuffle}, data.seed={dseed}); --limit N takes the first N instead",
                    flush=True,
                )
                settings_from = [*(settings_from or []), f"{p}: the run's data.val_max_samples={n} subset"]
                dataset, processor = load_rows(p, str(model_dir), n, shuffle=shuffle, seed=dseed)
            else:
                dataset, processor = load_rows(p, str(model_dir), limit)
            skip = log.done(file)
            if skip:
                print(f"[anatomy-r1 eval] {p}: {len(skip)} questions already answered (--resume)", flush=True)
            for i, row, texts in engine.generate(
                dataset, processor, cfg, skip=skip, progress=progress, desc=Path(p).name
            ):
                log.add(question_records(i, row, texts, names[p], file, reward_kwargs))
                generated += 1
    except BaseException as e:
        log.close()
        kept = len(log.records) // samples
        e.add_note(
            f"{out / results.RESPONSES} keeps the {kept} questions answered so far; the same command with "
            "--resume generates only the missing ones"
        )
        raise
    finally:
        engine.close()
    generation_s = time.time() - t1
    records = log.finish(files)
    settings = {
        "model": str(model_src),
        "model_dir": str(model_dir),
        "method": method,
        "seed": seed,
        **{k: v for k, v in prov.items() if k in ("step", "recipe")},
        "files": files,
        "limit": limit,
        "device": device if engine.name == "hf" else None,
        "engine": engine.name,
        "replicas": engine.replicas,
        "samples": cfg.samples,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        "sampling_seed": cfg.seed,
        "settings_from": settings_from or [],
        "reward_kwargs": reward_kwargs,
        "startup_s": round(startup_s, 1),
        "generation_s": round(generation_s, 1),
        "questions_generated": generated,
        "questions_resumed": resumed,
        "questions_per_s": round(generated / generation_s, 3) if generation_s > 0 and generated else None,
    }
    return out, results.write_metrics(out, records, settings)
