"""The agent loop's prompt cache: one preparation per distinct prompt, the same tokens and images as without it."""

import asyncio

import numpy as np
import pytest
from PIL import Image

from anatomy_r1_verl.agent_loop.prompt_cache import AsyncMemo, content_key
from anatomy_r1_verl.patches import torchvision_ops as tv_compat

tv_compat.install()  # before anything imports torchvision (qwen_vl_utils does)


def test_content_key_follows_content_not_identity_or_order():
    a = [{"role": "user", "content": [{"type": "image", "image": "/d/f.png"}, {"type": "text", "text": "Q?"}]}]
    b = [{"content": [{"image": "/d/f.png", "type": "image"}, {"text": "Q?", "type": "text"}], "role": "user"}]
    assert content_key(a) == content_key(b)
    assert content_key(a) != content_key([{**a[0], "content": a[0]["content"][:1]}])
    assert content_key("1") != content_key(1) != content_key(b"1") != content_key(1.0)
    assert content_key(["ab", "c"]) != content_key(["a", "bc"])
    assert content_key(np.arange(4)) == content_key(np.arange(4)) != content_key(np.arange(4).reshape(2, 2))
    red, red2, blue = (Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (255, 0, 0), (0, 0, 255)))
    assert content_key([red]) == content_key([red2]) != content_key([blue])
    assert content_key([object()]) is None  # cannot be encoded exactly: not cached


def test_async_memo_shares_a_running_computation_and_drops_failures():
    calls = []

    async def compute(tag):
        calls.append(tag)
        await asyncio.sleep(0.01)
        if tag == "bad":
            raise ValueError("boom")
        return [tag]

    async def main():
        m = AsyncMemo(max_entries=2)
        outs = await asyncio.gather(*(m.get("k1", lambda: compute("a")) for _ in range(8)))
        assert outs == [["a"]] * 8 and calls == ["a"] and (m.misses, m.hits) == (1, 7)
        for _ in range(2):
            with pytest.raises(ValueError, match="boom"):
                await m.get("k2", lambda: compute("bad"))
        assert calls == ["a", "bad", "bad"]  # the failure was not kept
        await m.get("k3", lambda: compute("c"))
        await m.get("k4", lambda: compute("d"))  # bound 2: k1, the least recently used, leaves
        await m.get("k1", lambda: compute("a2"))
        assert calls[-1] == "a2"
        assert await m.get(None, lambda: compute("x")) == ["x"] and await m.get(None, lambda: compute("x")) == ["x"]
        assert calls[-2:] == ["x", "x"]  # no key: computed every time

    asyncio.run(main())


@pytest.fixture(scope="module")
def loop_parts(tmp_path_factory):
    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from anatomy_r1_verl.launch.compose import compose
    from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path

    d = tmp_path_factory.mktemp("imgs")
    paths = []
    for i, colour in enumerate(((200, 30, 30), (30, 200, 30))):
        img = Image.new("RGB", (84, 84), colour)
        img.putpixel((3, 5), (0, 0, 255))
        paths.append(str(d / f"f{i}.png"))
        img.save(paths[-1])
    model_dir = asset_path(DEFAULT_MODEL)
    return compose("demo_cpu", []), hf_tokenizer(model_dir), hf_processor(model_dir), RLHFDataset, paths


def _sessions(loop_parts, enabled: bool, monkeypatch):
    """8 sessions of 2 prompts (4 each) prepared concurrently by verl's agent-loop methods through the mixin."""
    from omegaconf import OmegaConf
    from verl.utils.tokenizer.continuous_token import VLContinuousTokenMixin

    from anatomy_r1_verl.agent_loop.loop import GDQAAgentLoop

    cfg, tok, proc, ds_cls, paths = loop_parts
    cfg = OmegaConf.merge(cfg, {"anatomy_r1": {"prompt_cache": enabled}})
    renders = []
    real = VLContinuousTokenMixin.build_initial_tokens
    monkeypatch.setattr(
        VLContinuousTokenMixin, "build_initial_tokens", lambda self, *a, **k: renders.append(1) or real(self, *a, **k)
    )

    def messages(i):
        return [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": paths[i % 2]},
                    {"type": "text", "text": f"Which structure? ({i % 2})"},
                ],
            }
        ]

    async def one(i):
        from verl.experimental.agent_loop.agent_loop import DictConfigWrap

        loop = GDQAAgentLoop(
            trainer_config=DictConfigWrap(cfg),
            server_manager=None,
            tokenizer=tok,
            processor=proc,
            dataset_cls=ds_cls,
            data_config=DictConfigWrap(cfg.data),
            hf_model_type="qwen2_5_vl",
        )
        msgs = messages(i)
        mm = await loop.process_multi_modal_info(msgs)
        out: dict = {}
        ids = await loop.ct_build_initial_tokens(msgs, images=mm.get("images"), mm_inputs_out=out)
        return ids, mm, out

    async def main():
        return await asyncio.gather(*(one(i) for i in range(8)))

    return asyncio.run(main()), len(renders)


def test_cached_preparation_equals_verls_own_and_runs_once_per_prompt(loop_parts, monkeypatch):
    """With the cache the 8 sessions get the same prompt ids and images as verl's per-session preparation, from
    2 renders instead of 8; each session owns its list of ids and of images. The processor outputs verl copies
    into ``mm_inputs_out`` (read only for SGLang's video payload, None without videos) are not shared."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopBase

    plain, plain_renders = _sessions(loop_parts, False, monkeypatch)
    cached, cached_renders = _sessions(loop_parts, True, monkeypatch)
    assert (plain_renders, cached_renders) == (8, 2)
    for (ids0, mm0, out0), (ids1, mm1, out1) in zip(plain, cached):
        assert ids0 == ids1 and len(ids1) > 20
        assert [np.asarray(a).tobytes() for a in mm0["images"]] == [np.asarray(b).tobytes() for b in mm1["images"]]
        assert "pixel_values" in out0 and out1 == {}
        assert AgentLoopBase.build_sglang_video_payload(None, out0) is None
    assert cached[0][0] is not cached[2][0] and cached[0][1]["images"] is not cached[2][1]["images"]
    assert cached[0][0] != cached[1][0]  # the two prompts differ
