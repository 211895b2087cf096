"""What ``anatomy-r1 eval`` is given, checked before any model is loaded: the model (a Hugging Face model
directory, or a verl checkpoint merged to one by verl's own ``verl.model_merger``) and test parquet files of
the project's row format (:mod:`anatomy_r1_verl.schema`) whose images exist.

Every failure is an :class:`EvalInputError` naming the file (and row) and what to do."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

ROW_COLUMNS = ("data_source", "prompt", "images", "reward_model", "extra_info")


class EvalInputError(ValueError):
    """A model, checkpoint or parquet ``anatomy-r1 eval`` cannot use; the message names it and the fix."""


def _is_verl_actor_dir(d: Path) -> bool:
    return (d / "huggingface").is_dir() and bool(glob.glob(str(d / "model_world_size_*_rank_*.pt")))


def checkpoint_actor_dir(src: str | os.PathLike) -> Path | None:
    """The folder holding the model shards of a verl FSDP checkpoint given as ``global_step_N`` or
    ``global_step_N/actor`` (PPO trainer) or ``global_step_N`` (SFT trainer), else None."""
    d = Path(src)
    for cand in (d, d / "actor"):
        if cand.is_dir() and _is_verl_actor_dir(cand):
            return cand
    return None


def checkpoint_step_dir(actor: Path) -> Path:
    """``global_step_N`` of an actor folder: its parent for verl's PPO layout (``global_step_N/actor``), itself
    for the SFT trainer's (``global_step_N`` holds the shards)."""
    return actor if actor.name.startswith("global_step_") else actor.parent


def resolve_model(src: str | os.PathLike, merged_dir: str | os.PathLike) -> Path:
    """A Hugging Face model directory for ``src``: ``src`` itself when it is one, else the verl checkpoint
    merged into ``merged_dir`` by verl's FSDP model merger (once; reused while the stamp matches)."""
    d = Path(src).expanduser()
    if not d.exists():
        raise EvalInputError(f"{d}: no such model or checkpoint directory")
    if (d / "config.json").is_file():
        return d.resolve()
    actor = checkpoint_actor_dir(d)
    if actor is None:
        if (d / "dist_ckpt").is_dir() or (d / "actor" / "dist_ckpt").is_dir() or (d / "model" / "dist_ckpt").is_dir():
            raise EvalInputError(
                f"{d}: a Megatron checkpoint; merge it first with `python -m verl.model_merger merge "
                "--backend megatron --local_dir <global_step_N/actor> --target_dir <dir>` and pass <dir>"
            )
        raise EvalInputError(
            f"{d}: neither a Hugging Face model directory (no config.json) nor a verl FSDP checkpoint "
            "(global_step_N or global_step_N/actor with huggingface/ and model_world_size_*_rank_*.pt); "
            "pass one of those"
        )
    return merge_checkpoint(actor, Path(merged_dir))


def merge_checkpoint(actor: Path, target: Path) -> Path:
    """verl's own FSDP merger (``python -m verl.model_merger merge --backend fsdp``), in this process."""
    stamp_file = target / "anatomy_r1_merged_from.json"
    shards = sorted(glob.glob(str(actor / "model_world_size_*_rank_*.pt")))
    stamp = {
        "actor": str(actor.resolve()),
        "shards": {os.path.basename(s): os.path.getsize(s) for s in shards},
        "mtime": max(os.path.getmtime(s) for s in shards),
    }
    if stamp_file.is_file() and (target / "config.json").is_file() and json.loads(stamp_file.read_text()) == stamp:
        print(f"[anatomy-r1 eval] reusing the merged model {target} (from {actor})", flush=True)
        return target.resolve()
    from verl.model_merger.base_model_merger import ModelMergerConfig
    from verl.model_merger.fsdp_model_merger import FSDPModelMerger

    print(f"[anatomy-r1 eval] merging the verl checkpoint {actor} -> {target} (verl.model_merger, fsdp)", flush=True)
    target.mkdir(parents=True, exist_ok=True)
    config = ModelMergerConfig(
        operation="merge",
        backend="fsdp",
        target_dir=str(target),
        local_dir=str(actor),
        hf_model_config_path=str(actor / "huggingface"),
    )
    merger = FSDPModelMerger(config)
    try:
        merger.merge_and_save()
    finally:
        merger.cleanup()
    if not (target / "config.json").is_file():
        raise EvalInputError(f"{actor}: verl's model merger wrote no config.json into {target}")
    if (target / "lora_adapter").is_dir():
        fold_lora_adapter(target)
    stamp_file.write_text(json.dumps(stamp, indent=1))
    return target.resolve()


def fold_lora_adapter(target: Path) -> None:
    """Fold the LoRA adapter of a LoRA-trained checkpoint into the merged model's weights.

    verl's merger writes a LoRA run's *base* weights as the model and the adapter beside it
    (``lora_adapter/``); loading the folder as it is gives the untrained model (verl issue 3110). The adapter is
    applied with peft (``PeftModel.from_pretrained`` + ``merge_and_unload``) and the result replaces the model
    files; ``lora_adapter/`` stays for users who serve base + adapter."""
    from anatomy_r1_verl.patches import torchvision_ops

    torchvision_ops.apply()  # peft imports transformers' models, which import torchvision
    import torch
    from peft import LoraConfig, PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForImageTextToText

    adapter = target / "lora_adapter"
    print(f"[anatomy-r1 eval] folding the LoRA adapter {adapter} into the merged weights (peft)", flush=True)
    # verl's adapter_config.json lists leaf names (q_proj, gate_proj...), which also match modules the run
    # excluded (the vision tower's MLP): target exactly the modules the adapter has weights for
    with safe_open(str(adapter / "adapter_model.safetensors"), "pt") as f:
        modules = sorted({k.removeprefix("base_model.model.").split(".lora_")[0] for k in f.keys()})  # noqa: SIM118 (safe_open is not iterable)
    config = LoraConfig.from_pretrained(str(adapter))
    config.target_modules, config.exclude_modules = modules, None
    base = AutoModelForImageTextToText.from_pretrained(str(target), dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter), config=config).merge_and_unload()
    for f in glob.glob(str(target / "*.safetensors")) + glob.glob(str(target / "*.safetensors.index.json")):
        os.remove(f)
    merged.save_pretrained(str(target))


def check_model_dir(model_dir: Path) -> None:
    """A Hugging Face model directory that transformers can read and that has a processor (images)."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(str(model_dir))
    except Exception as e:
        raise EvalInputError(
            f"{model_dir}: transformers cannot read its config.json ({e}); pass a Hugging Face "
            "model directory or a verl checkpoint"
        ) from e
    if not any((model_dir / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        raise EvalInputError(
            f"{model_dir}: no tokenizer files (tokenizer.json / tokenizer_config.json); a model "
            "directory needs its tokenizer and processor saved beside the weights"
        )


def check_parquet(path: str | os.PathLike) -> int:
    """The number of rows of a test parquet in the project's row format whose images all exist."""
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_file():
        raise EvalInputError(f"{p}: no such parquet file")
    try:
        table = pq.read_table(p)
    except Exception as e:
        raise EvalInputError(f"{p}: not a readable parquet file ({e})") from e
    missing = [c for c in ROW_COLUMNS if c not in table.column_names]
    if missing:
        raise EvalInputError(
            f"{p}: not in the project's row format (missing columns {missing}; has "
            f"{table.column_names}); convert the data with `anatomy-r1 prepare ...`"
        )
    if table.num_rows == 0:
        raise EvalInputError(f"{p}: has no rows")
    extras = table.column("extra_info").to_pylist()
    rms = table.column("reward_model").to_pylist()
    for i, (images, extra, rm) in enumerate(zip(table.column("images").to_pylist(), extras, rms)):
        rid = (extra or {}).get("id", i)
        if not isinstance(rm, dict) or not rm.get("ground_truth"):
            raise EvalInputError(
                f"{p}: row {rid} has no reward_model.ground_truth; convert the data with `anatomy-r1 prepare ...`"
            )
        for img in images or []:
            if img.get("bytes"):
                continue
            path_ = img.get("image")
            if not path_ or not os.path.isfile(str(path_).removeprefix("file://")):
                raise EvalInputError(
                    f"{p}: row {rid} names the image {path_!r}, which does not exist; move the "
                    "images back or re-run `anatomy-r1 prepare` so the rows name existing files"
                )
    return table.num_rows
