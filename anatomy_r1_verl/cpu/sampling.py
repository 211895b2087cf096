"""Reproducible sampling for the CPU rollout: each response draws from its own seeded random stream.

HF ``generate(do_sample=True)`` draws every row of a batch from torch's one global generator, so a
response depends on which other requests happened to share its batch and in which order they arrived
(verl's agent-loop workers send them concurrently). Two runs with the same seed then train on different
samples. Here a row's randomness comes from a key of its own instead, built from the run's seed, the
policy version (the training step), the prompt (token ids and image bytes) and how many times that same
prompt was already drawn at this version (the ``rollout.n`` copies of one question get draws 0..n-1).

The draw itself is the Gumbel-max trick: ``argmax(logits / T + Gumbel noise)`` is an exact sample of
``softmax(logits / T)`` (after top-k / top-p masking), so ``generate`` runs greedily with this processor
last in its chain, and the noise for row i, token t is the t-th vector of row i's own generator.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import torch
from transformers import LogitsProcessor
from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper


def prompt_key(prompt_ids, images=()) -> str:
    """A digest of one request's content: its token ids and the raw bytes of its images."""
    h = hashlib.sha256()
    h.update(",".join(str(int(t)) for t in prompt_ids).encode())
    for im in images or ():
        data = im.tobytes() if hasattr(im, "tobytes") else bytes(str(im), "utf-8")
        h.update(b"|img|" + str(getattr(im, "size", "")).encode() + data)
    return h.hexdigest()


class DrawCounter:
    """Seeds for the requests of one policy version: the k-th draw of a prompt gets ``seed(base, version, key, k)``.

    The counter restarts when the version changes, so a run resumed at step s draws what the first run
    drew at step s."""

    def __init__(self, base_seed: int):
        self.base_seed = int(base_seed)
        self.version = None
        self._drawn: Counter = Counter()

    def seeds(self, version, keys: list[str]) -> list[int]:
        if version != self.version:
            self.version, self._drawn = version, Counter()
        out = []
        for key in keys:
            k = self._drawn[key]
            self._drawn[key] += 1
            digest = hashlib.sha256(f"{self.base_seed}|{version}|{key}|{k}".encode()).digest()
            out.append(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
        return out


class SeededSampler(LogitsProcessor):
    """Last logits processor of a greedy ``generate``: warps the logits as sampling would (temperature,
    top-k, top-p), keeps them (``self.scores``, for the sampled tokens' log-probs), and adds each row's
    own Gumbel noise so that the greedy pick is a sample."""

    def __init__(self, seeds: list[int], temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0):
        if temperature <= 0:
            raise ValueError(f"SeededSampler needs temperature > 0, got {temperature}; use greedy decoding instead")
        self.warpers = []
        if temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(float(temperature)))
        if top_k and top_k > 0:
            self.warpers.append(TopKLogitsWarper(int(top_k)))
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(float(top_p)))
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.scores: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self.generators):
            raise ValueError(f"SeededSampler: batch of {scores.shape[0]} rows, but {len(self.generators)} seeds")
        scores = scores.float()
        for warp in self.warpers:
            scores = warp(input_ids, scores)
        self.scores.append(scores)
        vocab = scores.shape[-1]
        u = torch.stack([torch.rand(vocab, generator=g) for g in self.generators]).to(scores.device)
        gumbel = -torch.log(-torch.log(u.clamp_(min=1e-20, max=1.0 - 1e-7)))
        return scores + gumbel
