"""Read back what verl's tensorboard and wandb (offline) loggers wrote, for the integration tests."""

from __future__ import annotations

import glob
import json
import os
import struct

# the W&B transaction log (run-<id>.wandb): LevelDB's log format with a 7-byte file header
_FILE_HEADER = struct.Struct("<4sHB")  # b":W&B", 0xBEE1, version 0
_REC_HEADER = struct.Struct("<IHB")  # crc32, length, type (FULL 1, FIRST 2, MIDDLE 3, LAST 4)
_BLOCK = 32 * 1024


def wandb_records(path: str) -> list[bytes]:
    """The protobuf payloads of a W&B offline run file, in order."""
    with open(path, "rb") as f:
        raw = f.read()
    ident, magic, version = _FILE_HEADER.unpack_from(raw, 0)
    if (ident, magic, version) != (b":W&B", 0xBEE1, 0):
        raise ValueError(f"{path}: not a W&B run file (header {ident!r} {magic:#x} {version})")
    out, pending, pos = [], b"", _FILE_HEADER.size
    while pos + _REC_HEADER.size <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < _REC_HEADER.size:  # the block's zero padding
            pos += left
            continue
        _, length, kind = _REC_HEADER.unpack_from(raw, pos)
        if kind == 0 and length == 0:  # zero fill at the end of a block or file
            pos += left
            continue
        data = raw[pos + _REC_HEADER.size : pos + _REC_HEADER.size + length]
        pos += _REC_HEADER.size + length
        pending = data if kind in (1, 2) else pending + data
        if kind in (1, 4):
            out.append(pending)
            pending = b""
    return out


def wandb_history(run_dir: str) -> list[dict]:
    """The rows logged with ``wandb.log`` in the (single) offline run under ``run_dir/wandb``."""
    from wandb.proto import wandb_internal_pb2

    files = glob.glob(os.path.join(run_dir, "wandb", "offline-run-*", "run-*.wandb"))
    if len(files) != 1:
        raise FileNotFoundError(f"expected one offline W&B run under {run_dir}/wandb, found {files}")
    rows = []
    for payload in wandb_records(files[0]):
        rec = wandb_internal_pb2.Record()
        rec.ParseFromString(payload)
        if rec.WhichOneof("record_type") == "history":
            rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item})
    return rows


def tensorboard_scalars(log_dir: str) -> dict[str, dict[int, float]]:
    """tag -> {step: value} of every scalar in the event files under ``log_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}
