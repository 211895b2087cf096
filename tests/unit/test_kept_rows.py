"""verl's dataset must keep every row of the files: anything it filtered is named, never trained around."""

import pandas as pd
import pytest

from anatomy_r1_verl.trainer.kept_rows import DroppedRowsError, check_kept_rows


def _parquet(path, n, with_ids=True, prefix="q"):
    rows = [{"extra_info": {"id": f"{prefix}{i}", "index": i} if with_ids else {"x": i}} for i in range(n)]
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


def test_all_rows_kept_passes(tmp_path):
    f = _parquet(tmp_path / "train.parquet", 5)
    check_kept_rows("data.train_files", [f], [{"id": f"q{i}"} for i in range(5)])


def test_dropped_rows_are_named_with_file_row_and_id(tmp_path):
    a, b = _parquet(tmp_path / "a.parquet", 3, prefix="a"), _parquet(tmp_path / "b.parquet", 15, prefix="b")
    kept = [{"id": "a0"}, {"id": "a2"}] + [{"id": f"b{i}"} for i in range(4)]  # a: a1 dropped; b: b4..b14 dropped
    with pytest.raises(DroppedRowsError) as e:
        check_kept_rows("data.train_files", [a, b], kept, max_prompt_length=320)
    msg = str(e.value)
    assert msg.startswith("data.train_files: verl's dataset kept 6 of the 18 rows")
    assert f"{a} row 1 (id 'a1')" in msg and f"{b} row 4 (id 'b4')" in msg
    assert "and 2 more" in msg  # 12 missing rows (a1, b4..b14), 10 named
    assert "data.max_prompt_length = 320" in msg and "raise data.max_prompt_length" in msg


def test_rows_without_ids_are_counted(tmp_path):
    f = _parquet(tmp_path / "val.parquet", 4, with_ids=False)
    with pytest.raises(DroppedRowsError, match="kept 3 of the 4 rows"):
        check_kept_rows("data.val_files", [f], [None] * 3)


def test_a_deliberate_subsample_is_not_a_drop(tmp_path):
    f = _parquet(tmp_path / "train.parquet", 10)
    check_kept_rows("data.train_files", [f], [{"id": f"q{i}"} for i in range(4)], max_samples=4)
    with pytest.raises(DroppedRowsError, match="kept 3 of the 4 rows"):
        check_kept_rows("data.train_files", [f], [{"id": f"q{i}"} for i in range(3)], max_samples=4)


def test_the_trainer_mode_checks_train_and_val(tmp_path):
    """The anatomy_r1 trainer mode runs the check on both of verl's datasets (here: the val file lost a row)."""
    import datasets
    from omegaconf import OmegaConf

    from anatomy_r1_verl.trainer.mode import AnatomyR1Trainer

    train, val = _parquet(tmp_path / "train.parquet", 4, prefix="t"), _parquet(tmp_path / "val.parquet", 3, prefix="v")

    class Dataset:  # what the check reads of verl's RLHFDataset
        def __init__(self, path, drop=0):
            self.dataframe = datasets.Dataset.from_pandas(pd.read_parquet(path).iloc[drop:])

    trainer = AnatomyR1Trainer.__new__(AnatomyR1Trainer)
    trainer.config = OmegaConf.create({"data": {"train_files": train, "val_files": [val], "max_prompt_length": 320}})
    trainer.train_dataset, trainer.val_dataset = Dataset(train), Dataset(val, drop=1)
    with pytest.raises(
        DroppedRowsError, match=r"^data.val_files: verl's dataset kept 2 of the 3 rows.*row 0 \(id 'v0'\)"
    ):
        trainer._check_kept_rows(list(trainer.train_dataset.dataframe["extra_info"]))
    trainer.val_dataset = Dataset(val)
    trainer._check_kept_rows(list(trainer.train_dataset.dataframe["extra_info"]))
