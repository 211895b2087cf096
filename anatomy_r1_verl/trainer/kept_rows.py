"""Refuse a run whose data verl silently shortened.

verl 0.9.1's ``RLHFDataset`` drops, with no more than a printed count, every row whose prompt (rendered with
its images) is longer than ``data.max_prompt_length`` (``data.filter_overlong_prompts``, on by default and in
this project's config) and every row it fails to render (``Error processing one of the samples, skipping...``).
Turning the filter off does not help: an overlong multimodal prompt then stops the run mid-training, in the
agent loop. So :func:`check_kept_rows` compares what verl kept with the parquet files right after verl built
its datasets and raises :class:`DroppedRowsError` naming the files, the number of rows and (when the rows carry
an ``extra_info.id`` or ``index``) the rows themselves, before any step runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from anatomy_r1_verl.schema import row_key

SHOWN = 10  # row keys named in the error


class DroppedRowsError(ValueError):
    """verl's dataset holds fewer rows than its files (and its max_samples) give."""


def file_list(value) -> list[str]:
    """A ``data.*_files`` value (one path or a list) as a list."""
    return [value] if isinstance(value, str) else [str(f) for f in (value or [])]


def expected_rows(files: Sequence[str], max_samples: int | None = -1) -> tuple[int, int]:
    """(rows in the parquet ``files``, rows verl's dataset should hold after its ``max_samples`` subsample)."""
    import pyarrow.parquet as pq

    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return total, (min(total, max_samples) if max_samples and max_samples > 0 else total)


def check_kept_rows(
    config_key: str,
    files: Sequence[str],
    kept_extra_info: Sequence,
    max_samples: int = -1,
    max_prompt_length: int | None = None,
) -> None:
    """Raise when verl kept fewer rows of ``files`` (the value of ``config_key``) than it should have.

    ``kept_extra_info``: the ``extra_info`` column of verl's dataset after its filter. ``max_samples`` > 0 is a
    deliberate subsample (``data.train_max_samples`` / ``val_max_samples``): only the count is checked then."""
    import pyarrow.parquet as pq

    local = [str(f) for f in files if str(f).endswith(".parquet") and "://" not in str(f)]
    if len(local) != len(files):
        return  # JSON or remote files: verl reads them, this check does not
    total, expected = expected_rows(local, max_samples)
    kept = len(kept_extra_info)
    if kept >= expected:
        return
    named = ""
    if expected == total:
        kept_keys = {row_key(e) for e in kept_extra_info if isinstance(e, dict)}
        missing = []
        for f in local:
            pf = pq.ParquetFile(f)
            column = (
                pf.read(columns=["extra_info"]).column("extra_info").to_pylist()
                if "extra_info" in pf.schema_arrow.names
                else []
            )
            missing += [
                f"{f} row {i} (id {row_key(e)!r})"
                for i, e in enumerate(column)
                if row_key(e) is not None and row_key(e) not in kept_keys
            ]
        if missing:
            more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
            named = f": {'; '.join(missing[:SHOWN])}{more}"
    limit = f" (data.max_prompt_length = {max_prompt_length} tokens, images included)" if max_prompt_length else ""
    raise DroppedRowsError(
        f"{config_key}: verl's dataset kept {kept} of the {expected} rows of {', '.join(local)}; {expected - kept} "
        f"were dropped by its overlong-prompt filter{limit} or failed to render (verl printed the error above)"
        f"{named}. Nothing is trained or validated on silently: raise data.max_prompt_length (and "
        "actor_rollout_ref.rollout.prompt_length with it), or fix or remove those rows"
    )
