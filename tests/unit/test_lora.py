"""LoRA without Ray: the hfcpu server serves the policy's adapter as verl sends it, and `anatomy-r1 eval` folds a
LoRA checkpoint's adapter into the merged weights (verl's merger alone leaves the base model: verl issue 3110)."""

import json

import pytest
import torch

from anatomy_r1_verl.patches import torchvision_ops as tv_compat
from anatomy_r1_verl.tiny.assets import DEFAULT_MODEL, asset_path

tv_compat.install()

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def policy():
    """The tiny model wrapped as verl's FSDP engine wraps it (lora/on.yaml's targets), adapters set to a
    visible, nonzero update."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    model_dir = asset_path(DEFAULT_MODEL)
    base = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    reference = {k: v.clone() for k, v in base.state_dict().items()}
    config = LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, exclude_modules=".*visual.*", task_type="CAUSAL_LM")
    peft_model = get_peft_model(base, config).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    ids = torch.tensor([[1, 5, 9, 17, 33, 65, 100, 7]])
    return {"dir": model_dir, "peft": peft_model, "config": config, "ids": ids, "reference": reference}


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_the_server_serves_the_adapter_verl_sends(policy):
    from peft.utils.save_and_load import get_peft_model_state_dict

    from anatomy_r1_verl.cpu.rollout import HFGenerateServer

    server = HFGenerateServer(policy["dir"], response_length=8, seed=0)
    before = _logits(server.model, policy["ids"])
    adapter = {k: v.clone() for k, v in get_peft_model_state_dict(policy["peft"]).items()}
    assert adapter and all(k.startswith("base_model.model.") and ".lora_" in k for k in adapter)
    peft_config = policy["config"].to_dict()
    info = server.update_weights(adapter, global_steps=1, peft_config=peft_config, base_sync_done=True)
    assert info["adapter"] and info["n_tensors"] == len(adapter) and server.version == 1
    want = _logits(policy["peft"], policy["ids"])
    got = _logits(server.model, policy["ids"])
    assert (want - before).abs().max() > 1e-2  # the adapter changes the policy: the comparison can fail
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not any("visual" in k and "lora_" in k for k in server.model.state_dict())

    # the base pass (verl's first sync when the rollout starts from dummy weights): base_layer names
    def base_name(k):  # verl's replace_lora_wrapper: a targeted module's own weight is its base_layer's
        hit = "language_model" in k and next((t for t in TARGETS if f".{t}." in k), None)
        return k.replace(f".{hit}.", f".{hit}.base_layer.") if hit else k

    base = {base_name(k): v for k, v in policy["reference"].items()}
    server.update_weights(base, global_steps=2, peft_config=peft_config, base_sync_done=False)
    torch.testing.assert_close(_logits(server.model, policy["ids"]), want, atol=1e-5, rtol=1e-5)

    with pytest.raises(RuntimeError, match="LoRA config changed"):
        server.update_weights(adapter, global_steps=3, peft_config={**peft_config, "r": 16}, base_sync_done=True)
    partial = dict(list(adapter.items())[1:])
    with pytest.raises(RuntimeError, match="incomplete"):
        server.update_weights(partial, global_steps=4, peft_config=peft_config, base_sync_done=True)


def test_eval_folds_a_lora_checkpoints_adapter(policy, tmp_path):
    """The layout verl's merger writes for a LoRA run: the base weights as the model, the adapter beside it with
    an adapter_config.json of leaf module names (which also match the vision tower's gate/up/down_proj)."""
    from peft.utils.save_and_load import get_peft_model_state_dict
    from safetensors.torch import save_file
    from transformers import AutoModelForImageTextToText

    from anatomy_r1_verl.evaluation.inputs import fold_lora_adapter

    target = tmp_path / "merged_hf"
    base = AutoModelForImageTextToText.from_pretrained(policy["dir"], dtype=torch.float32)
    base.save_pretrained(target)
    (target / "lora_adapter").mkdir()
    adapter = {k: v.contiguous() for k, v in get_peft_model_state_dict(policy["peft"]).items()}
    save_file(adapter, str(target / "lora_adapter" / "adapter_model.safetensors"))
    config = {"r": 4, "lora_alpha": 8, "target_modules": TARGETS, "task_type": "CAUSAL_LM", "peft_type": "LORA"}
    (target / "lora_adapter" / "adapter_config.json").write_text(json.dumps(config))
    unfolded = _logits(AutoModelForImageTextToText.from_pretrained(target, dtype=torch.float32), policy["ids"])

    fold_lora_adapter(target)
    folded = AutoModelForImageTextToText.from_pretrained(target, dtype=torch.float32).eval()
    want = _logits(policy["peft"], policy["ids"])
    assert (want - unfolded).abs().max() > 1e-2  # the trap: the merged folder alone is the untrained model
    torch.testing.assert_close(_logits(folded, policy["ids"]), want, atol=1e-5, rtol=1e-5)
    assert not any("lora_" in k for k in folded.state_dict())
    assert (target / "lora_adapter" / "adapter_model.safetensors").is_file()  # kept for base + adapter serving
