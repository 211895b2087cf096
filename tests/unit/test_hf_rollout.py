"""The hfcpu rollout server without Ray: it samples from the same policy that verl's actor scores."""

import pytest
import torch

from anatomy_r1_verl.patches import torchvision_ops as tv_compat
from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path

tv_compat.install()  # before anything imports torchvision (qwen_vl_utils does)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from qwen_vl_utils import process_vision_info

    from anatomy_r1_verl.cpu.rollout import HFGenerateServer
    from anatomy_r1_verl.evaluation.prompts import encode_prompts, load_rows
    from anatomy_r1_verl.synthetic.generator import SyntheticConfig, generate

    out = tmp_path_factory.mktemp("synthetic")
    generate(SyntheticConfig(out_dir=str(out), seed=3, train=0, val=6, test=0), progress=False)
    model_dir = asset_path(DEFAULT_MODEL)
    ds, proc = load_rows(str(out / "val.parquet"), model_dir)
    server = HFGenerateServer(model_dir, response_length=24, seed=0)
    rows = [ds[i] for i in range(4)]
    encs = [encode_prompts(proc, [r["raw_prompt"]]) for r in rows]
    reqs = [
        (
            e["input_ids"][0].tolist(),
            {"temperature": 1.0, "logprobs": True},
            list(process_vision_info(r["raw_prompt"])[0]),
            None,
            None,
        )
        for r, e in zip(rows, encs)
    ]
    return server, encs, reqs


def test_rollout_log_probs_match_a_teacher_forced_pass_with_3d_image_positions(setup):
    """A batch of 4 prompts of different lengths (left padding) sampled at temperature 1: each token's
    log-prob from generate equals a full forward pass with Qwen2.5-VL's 3-D image positions (what
    verl's actor computes). Without the image token types, generate used flat positions (diffs ~5e-2)."""
    server, encs, reqs = setup
    outs = server._generate_batch(reqs)
    for enc, out in zip(encs, outs):
        resp = torch.tensor([out.token_ids])
        full = torch.cat([enc["input_ids"], resp], 1)
        types = torch.cat([enc["mm_token_type_ids"], torch.zeros_like(resp)], 1)
        with torch.no_grad():
            logits = server.model(
                input_ids=full,
                attention_mask=torch.ones_like(full),
                mm_token_type_ids=types,
                pixel_values=enc["pixel_values"],
                image_grid_thw=enc["image_grid_thw"],
            ).logits
        p = enc["input_ids"].shape[1]
        lp = torch.log_softmax(logits[0, p - 1 : p - 1 + resp.shape[1]], -1).gather(-1, resp[0, :, None])[:, 0]
        assert torch.allclose(lp, torch.tensor(out.log_probs), atol=1e-3), (lp, out.log_probs)


def test_mm_token_types_mark_image_pads_under_left_padding(setup):
    server, _, reqs = setup
    prompts = [reqs[0][0], reqs[1][0][3:]]
    types = server._mm_token_types(*server._left_pad(prompts))
    image_id = server.model.config.image_token_id
    for i, ids in enumerate(prompts):
        row = types[i, types.shape[1] - len(ids) :]
        assert row.tolist() == [int(t == image_id) for t in ids]
        assert types[i, : types.shape[1] - len(ids)].sum() == 0
    assert types.sum() == sum(int(t == image_id) for p in prompts for t in p) > 0


def test_weight_update_maps_fsdp_names_once_and_loads_strictly(setup):
    server = setup[0]
    own = server.model.state_dict()
    # verl's FSDP actor names the weights like the checkpoint: visual.*, model.layers.*, lm_head.*
    fsdp = {}
    for k, v in own.items():
        k2 = k.replace("model.visual.", "visual.").replace("model.language_model.", "model.")
        fsdp[k2] = v.clone() + 0.0
    first = server.update_weights(fsdp, global_steps=7)
    assert first["version"] == server.version == 7 and first["n_tensors"] == len(fsdp)
    assert set(server._names) == set(fsdp)  # resolved once, then reused
    cached = dict(server._names)
    server.update_weights(fsdp, global_steps=8)
    assert server._names == cached
    with pytest.raises(KeyError, match="cannot map weight"):
        server.update_weights({"model.layers.99.nope.weight": torch.zeros(1)}, global_steps=9)
    bad = dict(fsdp)
    bad.pop(next(iter(bad)))
    with pytest.raises(RuntimeError, match="incomplete"):
        server.update_weights(bad, global_steps=10)


def _draws(server, reqs, batches):
    """Generate reqs split into the given index batches (in that order) from a fresh draw counter;
    returns each prompt's sorted list of sampled token sequences."""
    from anatomy_r1_verl.cpu.sampling import DrawCounter

    server.draws, server.version = DrawCounter(11), 3
    got: dict = {}
    for idx in batches:
        for i, out in zip(idx, server._generate_batch([reqs[i] for i in idx])):
            got.setdefault(tuple(reqs[i][0]), []).append(tuple(out.token_ids))
    return {k: sorted(v) for k, v in got.items()}


def test_sampling_does_not_depend_on_batching_or_arrival_order(setup):
    """Each prompt 3 times (a GRPO group): one batch of 12 in order, or 5 batches in another order,
    gives every prompt the same three responses. HF's own sampling draws from one global generator,
    so a response depended on its batch neighbours and two runs with one seed trained on different
    samples."""
    server, _, reqs = setup
    group = [r for r in reqs for _ in range(3)]
    one = _draws(server, group, [list(range(12))])
    split = _draws(server, group, [[11, 0], [5, 3, 9], [1], [10, 2, 8, 4], [7, 6]])
    assert one == split
    assert len(one) == 4 and all(len(v) == 3 for v in one.values())
    # the copies of a prompt are different draws, not one draw repeated
    assert sum(len(set(v)) for v in one.values()) > 4


def test_sampling_changes_with_the_policy_version_and_the_seed():
    from anatomy_r1_verl.cpu.sampling import DrawCounter

    a = DrawCounter(0)
    s1 = a.seeds(1, ["p", "p", "q"])
    assert len(set(s1)) == 3
    assert a.seeds(1, ["p"])[0] not in s1  # the 3rd draw of p at version 1
    s2 = a.seeds(2, ["p", "p", "q"])  # a new version restarts the count with new seeds
    assert not set(s1) & set(s2)
    assert DrawCounter(0).seeds(2, ["p", "p", "q"]) == s2  # a resumed run draws the same
    assert DrawCounter(1).seeds(2, ["p", "p", "q"]) != s2


def test_seeded_sampler_draws_from_the_warped_distribution():
    """Gumbel-max with per-row generators is an exact sampler: 20,000 rows from fixed logits match
    softmax(logits / T) after top-k, and the kept scores are the warped logits without noise."""
    from anatomy_r1_verl.cpu.sampling import SeededSampler

    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    n = 20000
    s = SeededSampler(list(range(n)), temperature=0.7, top_k=4)
    noisy = s(torch.zeros(n, 1, dtype=torch.long), logits.repeat(n, 1))
    freq = torch.bincount(noisy.argmax(-1), minlength=6).float() / n
    want = torch.softmax(torch.cat([logits[:4] / 0.7, torch.full((2,), -float("inf"))]), -1)
    assert torch.allclose(freq, want, atol=0.01), (freq, want)
    assert torch.equal(s.scores[0][0, :4], logits[:4] / 0.7) and torch.isinf(s.scores[0][0, 4:]).all()
    with pytest.raises(ValueError, match="temperature"):
        SeededSampler([0], temperature=0.0)
    with pytest.raises(ValueError, match="2 seeds"):
        SeededSampler([0, 1])(torch.zeros(3, 1, dtype=torch.long), torch.zeros(3, 6))


def test_prompt_key_tells_images_apart():
    from PIL import Image

    from anatomy_r1_verl.cpu.sampling import prompt_key

    red, blue = Image.new("RGB", (4, 4), "red"), Image.new("RGB", (4, 4), "blue")
    assert prompt_key([1, 2], [red]) == prompt_key([1, 2], [red.copy()])
    assert prompt_key([1, 2], [red]) != prompt_key([1, 2], [blue])
    assert prompt_key([1, 2], [red]) != prompt_key([1, 3], [red])


def test_a_request_seed_fixes_its_sample_whatever_shares_its_batch(setup):
    """``anatomy-r1 eval`` gives each sampled request its own seed: the answer is the same alone or batched with
    others (requests that differ only in their seeds still share one generate call), and another seed draws
    another answer."""
    server, _, reqs = setup

    def seeded(req, seed):
        return (req[0], {**req[1], "seed": seed}, req[2], req[3], req[4])

    assert server._sampling_key(seeded(reqs[0], 1)[1]) == server._sampling_key(seeded(reqs[1], 2)[1])
    batch = server._generate_batch([seeded(r, 100 + i) for i, r in enumerate(reqs)])
    alone = [server._generate_batch([seeded(r, 100 + i)])[0] for i, r in enumerate(reqs)]
    assert [o.token_ids for o in batch] == [o.token_ids for o in alone]
    others = [server._generate_batch([seeded(r, 7 + i)])[0] for i, r in enumerate(reqs)]
    assert [o.token_ids for o in others] != [o.token_ids for o in alone]
