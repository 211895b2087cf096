"""Evaluation through verl's rollout replicas: ``anatomy-r1 eval --engine vllm|hfcpu``.

The model is served the way training serves it: verl's ``LLMServerManager`` starts N standalone replicas of the
configured rollout backend (``vllm``, or the project's ``hfcpu``), each on its own Ray resource pool of
``tensor_model_parallel_size`` GPUs, and its ``LLMServerClient`` routes every request to the replica with the
fewest requests in flight. A request is what verl's agent loop sends during validation: the prompt's token ids
(the processor's chat template, image pads expanded) and its images; the answer comes back as token ids.

verl also ships ``verl.trainer.main_generation_server``, which posts OpenAI chat requests to the replicas'
HTTP servers. That path has no token-level control (the chat template is the server's, images would travel as
data URLs) and the ``hfcpu`` replica has no HTTP server, so the token-in/token-out client is the seam here:
the ids a replica sees are the ids ``--engine hf`` generates from, and the ids validation sends during training.

Sampled answers carry a per-request seed derived from ``--sampling-seed``, the question and the sample number,
so an answer does not depend on which replica served it or what shared its batch (vLLM applies the seed per
request; ``hfcpu`` draws from the request's own generator, :mod:`anatomy_r1_verl.cpu.sampling`)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

from omegaconf import DictConfig, OmegaConf, open_dict
from tqdm import tqdm

from anatomy_r1_verl.evaluation.generate import GenerationConfig
from anatomy_r1_verl.evaluation.prompts import request_inputs
from anatomy_r1_verl.evaluation.scoring import row_fields


class ReplicaDied(RuntimeError):
    """A rollout replica stopped answering mid-evaluation; the message names it."""


def request_seed(sampling_seed: int, key: str, sample: int) -> int:
    """The seed of sample ``sample`` of one question (``key``): the same whatever replica serves it."""
    digest = hashlib.sha256(f"{sampling_seed}|{key}|{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def sampling_params(cfg: GenerationConfig) -> dict:
    """verl's rollout sampling parameters for an evaluation setting (greedy: temperature 0)."""
    return {
        "temperature": float(cfg.temperature),
        "top_p": float(cfg.top_p),
        "top_k": -1,
        "repetition_penalty": 1.0,
        "max_tokens": int(cfg.max_new_tokens),
        "logprobs": False,
    }


def serving_config(cfg: DictConfig, model_dir: str, replicas: int, cfg_gen: GenerationConfig) -> DictConfig:
    """The composed config with the rollout set to serve ``model_dir`` from ``replicas`` standalone replicas
    (``tensor_model_parallel_size`` devices each) at the evaluation's response length."""
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    rollout = cfg.actor_rollout_ref.rollout
    tp = int(rollout.tensor_model_parallel_size) * int(rollout.data_parallel_size)
    tp *= int(rollout.pipeline_model_parallel_size)
    with open_dict(cfg):
        cfg.actor_rollout_ref.model.path = str(model_dir)
        rollout.load_format = "auto"  # training starts from dummy weights and syncs; a server loads the files
        rollout.nnodes = 1
        rollout.n_gpus_per_node = replicas * tp
        rollout.response_length = int(cfg_gen.max_new_tokens)
        rollout.calculate_log_probs = False
        cfg.trainer.n_gpus_per_node = replicas * tp
        cfg.trainer.nnodes = 1
    return cfg


class ReplicaEngine:
    """N rollout replicas of one backend, started through verl's ``LLMServerManager`` (standalone mode).

    Ray must be initialised by the caller (a local cluster, or one joined through ``RAY_ADDRESS``)."""

    def __init__(self, cfg: DictConfig, in_flight: int = 64):
        from verl.workers.rollout.llm_server import LLMServerManager

        self.name = str(cfg.actor_rollout_ref.rollout.name)
        self.in_flight = int(in_flight)
        import ray

        self.manager = LLMServerManager.create(cfg)
        self.replicas = len(self.manager.rollout_replicas)
        # a replica's server actor may still be loading the model when its manager returns (hfcpu): wait, so
        # that start-up and generation are measured apart and a server that cannot start fails here
        ray.get([r.server_handle.__ray_ready__.remote() for r in self.manager.rollout_replicas])
        self.client = self.manager.get_client()
        self.addresses = list(self.manager.server_addresses)
        self.on_close: list = []  # called after the replicas are stopped (the caller's local Ray)

    def describe(self, actor_id) -> str:
        """``replica R (<address>)`` for a server actor id, else the id."""
        wanted = actor_id.hex() if hasattr(actor_id, "hex") else str(actor_id)
        for r in self.manager.rollout_replicas:
            for handle in [r.server_handle, *r.servers, *r.workers]:
                if handle is not None and handle._actor_id.hex() == wanted:
                    return f"replica {r.replica_rank} of {self.replicas} ({self.name}, {r.server_address})"
        return f"a {self.name} replica actor ({wanted})"

    async def _question(self, processor, i: int, row: dict, cfg: GenerationConfig, key: str) -> tuple:
        ids, images = request_inputs(processor, row["raw_prompt"])
        base = sampling_params(cfg)
        k = 1 if cfg.temperature == 0 else cfg.samples

        async def one(s: int) -> str:
            params = dict(base)
            if cfg.temperature > 0:
                params["seed"] = request_seed(cfg.seed, key, s)
            out = await self.client.generate(f"{key}#{s}", prompt_ids=ids, sampling_params=params, image_data=images)
            return processor.tokenizer.decode(out.token_ids, skip_special_tokens=True)

        return i, row, list(await asyncio.gather(*(one(s) for s in range(k))))

    def generate(
        self, dataset, processor, cfg: GenerationConfig, *, skip=frozenset(), progress=True, desc="eval"
    ) -> Iterator[tuple[int, dict, list[str]]]:
        """Yields ``(row index, row, [K response texts])`` as questions finish (not in row order), keeping at
        most ``in_flight`` requests per replica outstanding. A dead replica raises :class:`ReplicaDied`."""
        import ray

        cfg.validate()
        per_question = 1 if cfg.temperature == 0 else cfg.samples
        width = max(1, self.in_flight * self.replicas // per_question)
        todo = iter([i for i in range(len(dataset)) if i not in skip])
        loop = asyncio.new_event_loop()
        pending: set = set()

        def refill() -> None:
            while len(pending) < width:
                i = next(todo, None)
                if i is None:
                    return
                row = dataset[i]
                key = f"{desc}|{row_fields(row)['id'] or i}"
                pending.add(loop.create_task(self._question(processor, i, row, cfg, key)))

        total = len(dataset) - len([i for i in skip if i < len(dataset)])
        try:
            with tqdm(
                total=total, desc=f"{desc} ({self.name} x{self.replicas})", unit="q", disable=not progress
            ) as bar:
                refill()
                while pending:
                    done, _ = loop.run_until_complete(asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED))
                    for task in done:
                        pending.discard(task)
                        try:
                            result = task.result()
                        except ray.exceptions.RayActorError as e:
                            raise ReplicaDied(
                                f"{self.describe(e.actor_id)} died mid-evaluation: {str(e).splitlines()[0]}"
                            ) from e
                        bar.update(1)
                        yield result
                    refill()
        finally:
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def close(self) -> None:
        """Stop the replicas' actors (on a joined cluster they would outlive this command)."""
        import ray

        for r in self.manager.rollout_replicas:
            for handle in {h._actor_id.hex(): h for h in [*r.servers, *r.workers] if h is not None}.values():
                try:
                    ray.kill(handle)
                except Exception:  # already gone
                    pass
        for hook in self.on_close:
            hook()
