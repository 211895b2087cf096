"""The one "are these synthetic questions what the run asks for" check (anatomy_r1_verl/synthetic/manifest.py),
beside the manifest the generator writes: missing splits, other settings, and a folder without a manifest, whose
error names the setting the caller's user changes."""

import json
import os

import pytest

from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate
from anatomy_r1_verl.synthetic.manifest import MANIFEST, ManifestError, stale_reason


def _want(d, **kw):
    return SyntheticConfig(out_dir=str(d), **{"seed": 5, "train": 4, "val": 4, "test": 4, **kw})


def test_missing_then_fresh_then_stale(tmp_path):
    want = _want(tmp_path)
    assert stale_reason(str(tmp_path), want) == "missing"
    generate(want, progress=False)
    assert os.path.isfile(tmp_path / MANIFEST)
    assert stale_reason(str(tmp_path), want) is None
    assert stale_reason(str(tmp_path), want, splits=("train", "val", "test")) is None
    other = _want(tmp_path, seed=6, image_position="last")
    assert stale_reason(str(tmp_path), other) == "made with other settings (seed 5 -> 6, image_position first -> last)"


def test_the_splits_the_caller_reads(tmp_path):
    generate(_want(tmp_path, test=0), progress=False)  # an empty split writes no file
    assert stale_reason(str(tmp_path), _want(tmp_path, test=0)) is None
    assert stale_reason(str(tmp_path), _want(tmp_path, test=0), splits=("train", "val", "test")) == "missing"


def test_older_manifest_means_image_first(tmp_path):
    want = _want(tmp_path)
    generate(want, progress=False)
    path = tmp_path / MANIFEST
    m = json.loads(path.read_text())
    del m["config"]["image_position"]
    path.write_text(json.dumps(m))
    assert stale_reason(str(tmp_path), want) is None
    assert "image_position first -> last" in stale_reason(str(tmp_path), _want(tmp_path, image_position="last"))


@pytest.mark.parametrize("setting", ["anatomy_r1.demo.data_dir", "--data"])
def test_no_manifest_names_the_callers_setting(tmp_path, setting):
    generate(_want(tmp_path), progress=False)
    os.remove(tmp_path / MANIFEST)
    with pytest.raises(ManifestError, match=f"no {MANIFEST}.*set {setting} to another folder"):
        stale_reason(str(tmp_path), _want(tmp_path), setting=setting)
