"""``hfcpu``: a verl rollout backend that serves Hugging Face ``generate`` from a Ray actor.

verl's trainer only talks to server rollouts (vLLM, SGLang, TensorRT-LLM), none of which runs without
a GPU. This backend plugs into the same two registries they use:

- ``RolloutReplicaRegistry["hfcpu"]`` -> :class:`HFRolloutReplica`, which starts one
  :class:`HFGenerateServer` Ray actor per replica: token ids in, token ids and log-probs out, with the
  images of a multimodal prompt turned into ``pixel_values`` by the model's own processor;
- ``_ROLLOUT_REGISTRY[("hfcpu", "async")]`` (verl 0.9.1 has no public function for this one) -> :class:`HFServerAdapter`, the object inside each
  actor/rollout worker that receives the FSDP2 weights after every policy update and loads them into
  the server, so each step samples from the current policy.

Select it with ``actor_rollout_ref.rollout.name=hfcpu`` (the ``cpu`` profile does).
"""

from __future__ import annotations

import asyncio
import logging
import os

import torch

from anatomy_r1_verl import trace
from anatomy_r1_verl.cpu import ROLLOUT_NAME, runtime
from anatomy_r1_verl.cpu.sampling import vision_token_ids
from anatomy_r1_verl.cpu.threads import install as install_thread_governor

log = logging.getLogger(__name__)


def server_actor_name(replica_rank: int) -> str:
    return f"anatomy_r1_hfcpu_server_{replica_rank}"


class HFGenerateServer:
    """Ray actor: token-in/token-out generation with a plain HF model (text or Qwen2.5-VL style).

    Requests that arrive together (the ``rollout.n`` sessions of a step's prompts) are generated as one
    left-padded batch of up to ``max_batch`` (see :meth:`_gather`); each response stops at its own end-of-sequence
    token.
    """

    def __init__(
        self,
        model_path: str,
        response_length: int,
        threads: int = 1,
        max_batch: int = 256,
        batch_wait_s: float = 0.05,
        max_wait_s: float = 1.0,
        seed: int = 0,
    ):
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText
        from verl.utils import hf_processor

        from anatomy_r1_verl.cpu.sampling import DrawCounter

        torch.set_num_threads(max(1, int(threads)))
        runtime.log_once("hfcpu server")
        install_thread_governor(torch.get_num_threads(), "hfcpu server")
        self.draws = DrawCounter(seed)  # actor_rollout_ref.rollout.seed: each response has its own seeded stream
        cfg = AutoConfig.from_pretrained(model_path)
        self.is_multimodal = hasattr(cfg, "vision_config")
        cls = AutoModelForImageTextToText if self.is_multimodal else AutoModelForCausalLM
        self.model = cls.from_pretrained(model_path, dtype=torch.float32).eval()
        self.processor = hf_processor(model_path) if self.is_multimodal else None
        if self.is_multimodal and self.processor is None:
            raise RuntimeError(
                f"hfcpu: {model_path} is multimodal but verl's hf_processor() returned None "
                "(torchvision broken?); run `anatomy-r1 doctor`"
            )
        self.response_length = int(response_length)
        gen_cfg = self.model.generation_config
        self.eos = gen_cfg.eos_token_id
        self.pad = gen_cfg.pad_token_id if gen_cfg.pad_token_id is not None else self.eos
        self.version = 0
        self.batch_wait_s, self.max_wait_s = float(batch_wait_s), float(max_wait_s)
        self.max_batch = int(max_batch)
        self._pending: list = []
        self._drainer = None
        # A response must never contain vision special tokens: verl's rope-index code would count them as
        # image slots. A barely trained model samples them, so they are suppressed.
        self.suppress = vision_token_ids(self.model.config)
        self._own = self.model.state_dict()
        self.adapter: dict | None = None  # the policy's LoRA config once its adapter has been synced
        self._names: dict[str, str] = {}  # incoming weight name -> own name (resolved once, then reused)
        trace.emit(
            "rollout_server_started",
            pid=os.getpid(),
            model_path=model_path,
            multimodal=self.is_multimodal,
            checksum=trace.checksum(self.model.named_parameters()),
        )

    async def generate(
        self,
        prompt_ids,
        sampling_params,
        request_id=None,
        image_data=None,
        video_data=None,
        audio_data=None,
        mm_processor_kwargs=None,
        **kwargs,
    ):
        """Queue one request; concurrent requests are generated together as one left-padded batch."""
        if video_data:
            raise NotImplementedError("hfcpu rollout: video inputs are not supported")
        future = asyncio.get_running_loop().create_future()
        self._pending.append(
            (list(prompt_ids), dict(sampling_params or {}), list(image_data or []), mm_processor_kwargs, future)
        )
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        return await future

    async def _gather(self) -> None:
        """Wait while requests keep arriving: until none came for ``batch_wait_s``, ``max_batch`` are queued or
        ``max_wait_s`` passed. verl's agent loop sends a step's rollout.n x batch sessions over a few hundred ms
        (each prepares its prompt first); a fixed short wait split them into several generate calls, each as
        slow as one call for all (decoding is step-bound), so the step's generation took 2-3 times longer."""
        loop = asyncio.get_running_loop()
        deadline, seen = loop.time() + self.max_wait_s, -1
        while seen != len(self._pending) and len(self._pending) < self.max_batch and loop.time() < deadline:
            seen = len(self._pending)
            await asyncio.sleep(self.batch_wait_s)

    async def _drain(self):
        while self._pending:
            await self._gather()
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            groups: dict = {}
            for req in batch:  # one generate() call per distinct sampling setting
                groups.setdefault(self._sampling_key(req[1]), []).append(req)
            for reqs in groups.values():
                try:
                    outs = await asyncio.to_thread(self._generate_batch, reqs)
                except Exception as e:  # fail the requests, not the server
                    for *_, fut in reqs:
                        if not fut.done():
                            fut.set_exception(e)
                    continue
                for (*_, fut), out in zip(reqs, outs):
                    if not fut.done():
                        fut.set_result(out)

    @staticmethod
    def _sampling_key(sp: dict) -> tuple:
        """Requests that can share one generate() call: the same settings, whatever their own seeds."""
        return tuple(sorted((k, str(v)) for k, v in sp.items() if k != "seed"))

    def _vision_inputs(self, x, mask, images, mm_kwargs) -> dict:
        """The (left-padded) prompt ids already hold the expanded image-pad runs; only the pixel features
        and the token types are missing."""
        if not images:
            return {}
        out = self.processor.image_processor(images=images, return_tensors="pt", **(mm_kwargs or {}))
        merge = getattr(self.processor.image_processor, "merge_size", 2)
        n_features = int((out["image_grid_thw"].prod(-1) // (merge * merge)).sum())
        types = self._mm_token_types(x, mask)
        n_pads = int(types.sum())
        if n_features != n_pads:
            raise ValueError(
                f"hfcpu rollout: prompts have {n_pads} image-pad tokens but the images give "
                f"{n_features} features; the processor config differs from verl's"
            )
        trace.emit(
            "rollout_images",
            n_images=len(images),
            pixel_values=list(out["pixel_values"].shape),
            image_pad_tokens=n_pads,
            batch=int(x.shape[0]),
        )
        return {
            "pixel_values": out["pixel_values"],
            "image_grid_thw": out["image_grid_thw"],
            "mm_token_type_ids": types,
        }

    def _mm_token_types(self, x, mask) -> torch.Tensor:
        """Modality of each prompt token of a padded batch: 1 for image pads, 0 otherwise (padding too).

        transformers' Qwen2.5-VL builds its 3-D (mRoPE) image positions only when it gets these;
        without them ``generate`` silently uses flat text positions for the image, i.e. samples from
        a different policy than the one verl's actor scores and trains (verl's agent loop computes
        3-D position ids from the same token types)."""
        return ((x == self.model.config.image_token_id) & mask.bool()).long()

    def _left_pad(self, prompts) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids as one left-padded batch (as generate() expects for decoder-only models) and its mask."""
        width = max(len(p) for p in prompts)
        x = torch.full((len(prompts), width), self.pad, dtype=torch.long)
        mask = torch.zeros_like(x)
        for i, p in enumerate(prompts):
            x[i, width - len(p) :] = torch.tensor(p)
            mask[i, width - len(p) :] = 1
        return x, mask

    @torch.no_grad()
    def _generate_batch(self, reqs) -> list:
        from transformers import LogitsProcessorList
        from verl.workers.rollout.replica import TokenOutput

        from anatomy_r1_verl.cpu.sampling import SeededSampler, prompt_key

        prompts = [r[0] for r in reqs]
        sp = reqs[0][1]
        x, mask = self._left_pad(prompts)
        width = x.shape[1]
        max_new = int(sp.get("max_tokens") or sp.get("max_new_tokens") or self.response_length)
        kw = dict(
            max_new_tokens=max_new,
            eos_token_id=self.eos,
            pad_token_id=self.pad,
            attention_mask=mask,
            return_dict_in_generate=True,
        )
        if self.suppress:
            kw["suppress_tokens"] = self.suppress
        if sp.get("ignore_eos"):
            kw["min_new_tokens"] = max_new
        images = [im for r in reqs for im in r[2]]
        kw.update(self._vision_inputs(x, mask, images, reqs[0][3]))
        temperature = float(sp.get("temperature", 1.0) or 0.0)
        sampler = None
        if temperature > 0:  # sampling, reproducible whatever the batch (see sampling.py)
            top_k = sp.get("top_k", -1)
            # a request's own seed (``anatomy-r1 eval``: per question and sample), else the run's seeded draws
            drawn = iter(self.draws.seeds(self.version, [prompt_key(r[0], r[2]) for r in reqs if "seed" not in r[1]]))
            seeds = [int(r[1]["seed"]) if "seed" in r[1] else next(drawn) for r in reqs]
            sampler = SeededSampler(
                seeds,
                temperature=temperature,
                top_p=float(sp.get("top_p", 1.0)),
                top_k=0 if top_k in (None, -1) else int(top_k),
            )
            kw["logits_processor"] = LogitsProcessorList([sampler])  # keeps the noise-free scores itself
        else:
            kw["output_scores"] = True
        kw.update(do_sample=False)
        out = self.model.generate(x, **kw)
        gen = out.sequences[:, width:]
        # log-probs of the processed logits (temperature/top-p applied, no sampling noise), as vLLM reports
        scores = sampler.scores if sampler is not None else out.scores
        logp = torch.stack([torch.log_softmax(s.float(), -1) for s in scores], 1) if sp.get("logprobs") else None
        results = []
        for i in range(len(reqs)):
            ids = gen[i].tolist()
            if self.eos in ids:
                ids = ids[: ids.index(self.eos) + 1]
            lps = [logp[i, t, tok].item() for t, tok in enumerate(ids)] if logp is not None else None
            results.append(
                TokenOutput(
                    token_ids=ids, log_probs=lps, stop_reason="completed", extra_fields={"global_steps": self.version}
                )
            )
        return results

    def _resolve(self, name: str) -> str:
        """Map an FSDP checkpoint-style name (``visual.*``, ``model.layers.*``) onto this model's module tree
        (``model.visual.*``, ``model.language_model.*``) by a unique suffix match."""
        hit = self._names.get(name)
        if hit is not None:
            return hit
        if name in self._own:
            self._names[name] = name
            return name
        tail = name.split(".", 1)[1] if name.startswith("model.") else name
        cands = [k for k in self._own if k.endswith("." + tail) or k.endswith("." + name)]
        if len(cands) != 1:
            raise KeyError(f"hfcpu rollout: cannot map weight {name!r} onto the server model ({len(cands)} matches)")
        self._names[name] = cands[0]
        return cands[0]

    def _inject_adapter(self, peft_config: dict) -> None:
        """Give the server model LoRA layers of the policy's shape (once), as vLLM serves an adapter beside its
        base weights: ``q_proj.weight`` becomes ``q_proj.base_layer.weight`` + ``q_proj.lora_A/B.default``."""
        if self.adapter is not None:
            if self.adapter != peft_config:
                raise RuntimeError(
                    "hfcpu rollout: the policy's LoRA config changed mid-run "
                    f"({self.adapter} -> {peft_config}); restart the run"
                )
            return
        from anatomy_r1_verl.patches import torchvision_ops

        torchvision_ops.apply()  # peft imports transformers' models, which import torchvision
        from peft import LoraConfig, inject_adapter_in_model

        fields = set(LoraConfig.__dataclass_fields__)
        config = LoraConfig(**{k: v for k, v in peft_config.items() if k in fields and k != "peft_type"})
        inject_adapter_in_model(config, self.model)
        self.model.eval()
        self.adapter = dict(peft_config)
        self._own, self._names = self.model.state_dict(), {}
        log.info("hfcpu rollout: LoRA layers injected (r=%s, alpha=%s)", config.r, config.lora_alpha)

    @staticmethod
    def adapter_name(name: str) -> str:
        """A name from ``get_peft_model_state_dict`` (``base_model.model.<...>.lora_A.weight``) as the injected
        model calls it (``<...>.lora_A.default.weight``); base weights (``<...>.base_layer.weight``) unchanged."""
        if name.startswith("base_model.model."):
            name = name[len("base_model.model.") :]
        for part in (".lora_A.", ".lora_B.", ".lora_embedding_A.", ".lora_embedding_B."):
            if part in name and f"{part}default." not in name:
                name = name.replace(part, f"{part}default.")
        return name

    def update_weights(
        self, state_dict: dict, global_steps=None, peft_config: dict | None = None, base_sync_done: bool = True
    ) -> dict:
        """Load the policy's weights: all of them, or (LoRA, ``peft_config`` given) the base weights once
        (``base_sync_done=False``) and then only the adapter tensors at every step."""
        if peft_config is not None:
            self._inject_adapter(peft_config)
            state_dict = {self.adapter_name(k): v for k, v in state_dict.items()}
        remapped = {self._resolve(k): v for k, v in state_dict.items()}
        missing, unexpected = self.model.load_state_dict(remapped, strict=False)
        if peft_config is not None:
            # one pass carries either the base or the adapter: what must arrive is the whole of that part
            adapter_pass = any(".lora_" in k for k in remapped)
            missing = [m for m in missing if (".lora_" in m) == adapter_pass]
        if getattr(self.model.config, "tie_word_embeddings", False) or getattr(
            self.model.config.get_text_config(), "tie_word_embeddings", False
        ):
            missing = [m for m in missing if m != "lm_head.weight"]
        if missing or unexpected:
            raise RuntimeError(
                f"hfcpu rollout: weight update incomplete: missing {missing[:5]}, unexpected {list(unexpected)[:5]}"
            )
        self.version = global_steps
        info = {
            "version": global_steps,
            "n_tensors": len(state_dict),
            "adapter": peft_config is not None and base_sync_done,
            "checksum": trace.checksum(state_dict.items()),
        }
        trace.emit("rollout_weights_loaded", **info)
        return info

    # control-plane calls verl's replica manager and checkpoint engine make; nothing to do for HF generate
    async def wake_up(self):
        pass

    async def sleep(self):
        pass

    async def abort_all_requests(self, reject_request=False):
        return {}

    async def resume_generation(self):
        pass

    async def clear_kv_cache(self):
        pass

    async def release_kv_cache(self):
        pass

    async def resume_kv_cache(self):
        pass

    async def start_profile(self, **kwargs):
        pass

    async def stop_profile(self):
        pass

    async def wait_for_requests_to_drain(self):
        pass


SERVER_KWARGS = ("threads", "max_batch", "batch_wait_s", "max_wait_s")


def server_kwargs(rollout_config) -> dict:
    """``actor_rollout_ref.rollout.engine_kwargs.hfcpu`` (verl's per-backend engine settings), checked."""
    engine = getattr(rollout_config, "engine_kwargs", None) or {}
    raw = dict(engine.get(ROLLOUT_NAME, None) or {})
    unknown = sorted(set(raw) - set(SERVER_KWARGS))
    if unknown:
        raise ValueError(
            f"actor_rollout_ref.rollout.engine_kwargs.{ROLLOUT_NAME}: unknown keys {unknown}; "
            f"known: {list(SERVER_KWARGS)}"
        )
    return raw


def _replica_class():
    import ray
    from verl.workers.rollout.replica import RolloutReplica

    class HFRolloutReplica(RolloutReplica):
        def rollout_worker_use_gpu(self) -> bool:
            return False

        async def launch_servers(self):
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            mc = self.model_config
            path = getattr(mc, "local_path", None) or mc.get("path")
            placement = {}
            if self.workers:  # beside the replica's first worker (its GPU slot), as verl places a vLLM server
                node = await self.workers[0].__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())
                placement["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node, soft=False)
            server = (
                ray.remote(HFGenerateServer)
                .options(
                    name=server_actor_name(self.replica_rank),
                    num_cpus=0,
                    max_concurrency=self.max_concurrency,
                    get_if_exists=True,
                    **placement,
                )
                .remote(
                    path,
                    self.config.response_length,
                    seed=int(getattr(self.config, "seed", 0) or 0),
                    **server_kwargs(self.config),
                )
            )
            self.servers = [server]
            self._server_handle = server
            self._server_address = f"{ROLLOUT_NAME}://{self.replica_rank}"

    return HFRolloutReplica


def _adapter_base():
    from verl.workers.rollout.base import BaseRollout

    return BaseRollout


class HFServerAdapter(_adapter_base()):
    """Lives in each actor/rollout worker; pushes the policy's weights into the replica's server."""

    def __init__(self, config, model_config, device_mesh, *args, **kwargs):
        super().__init__(config, model_config, device_mesh)
        c = self.config
        world = c.tensor_model_parallel_size * c.data_parallel_size * c.pipeline_model_parallel_size
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        self.replica_rank, self.is_leader = rank // world, rank % world == 0

    async def resume(self, tags):
        pass

    async def release(self):
        pass

    async def update_weights(self, weights, wire_format="named_tensors", **kwargs):
        """verl's FSDP engine calls this after each policy update: the full weights, or with LoRA
        (``peft_config`` given, ``model.lora.merge`` off) the base once and then the adapter tensors alone."""
        import ray

        state = {}
        for name, t in weights:  # every rank must take part in the gather of sharded (DTensor) weights
            if hasattr(t, "full_tensor"):
                t = t.full_tensor()
            state[name] = t.detach().to("cpu", torch.float32).clone()
        if not self.is_leader:
            return
        step = kwargs.get("global_steps")
        peft_config = kwargs.get("peft_config")
        base_sync_done = bool(kwargs.get("base_sync_done", True))
        trace.emit("rollout_weights_sent", version=step, n_tensors=len(state), checksum=trace.checksum(state.items()))
        server = ray.get_actor(server_actor_name(self.replica_rank))
        info = await server.update_weights.remote(state, step, peft_config, base_sync_done)
        log.info(
            "hfcpu rollout: server %d loaded %d %s tensors for step %s",
            self.replica_rank,
            info["n_tensors"],
            "adapter" if info["adapter"] else "model",
            step,
        )


def register() -> None:
    """Register ``hfcpu`` in verl's two rollout registries.

    The replica goes through verl's public ``RolloutReplicaRegistry.register``. verl 0.9.1 has no public way to
    add a worker-side rollout adapter: ``get_rollout_class`` reads the module-level dict ``_ROLLOUT_REGISTRY``,
    so the adapter's path is added to that dict (a loud error if verl renamed it)."""
    from verl.workers.rollout import base as rollout_base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    registry = getattr(rollout_base, "_ROLLOUT_REGISTRY", None)
    if not isinstance(registry, dict):
        raise RuntimeError(
            "verl.workers.rollout.base._ROLLOUT_REGISTRY is gone (verl is not 0.9.1?): the hfcpu "
            "rollout cannot be registered; install the pinned verl or update cpu/rollout.py"
        )
    registry[(ROLLOUT_NAME, "async")] = f"{__name__}.HFServerAdapter"
    RolloutReplicaRegistry.register(ROLLOUT_NAME, _replica_class)


register()  # on import, like verl's decorators (see anatomy_r1_verl.cpu.register)
