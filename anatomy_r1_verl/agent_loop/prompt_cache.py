"""One prompt preparation per distinct prompt in an agent-loop worker, shared by the sessions that ask it.

verl's single-turn agent loop prepares every session's prompt on its own: it loads and resizes the row's
images (``process_multi_modal_info``) and renders the chat template through the processor
(``ct_build_initial_tokens``), so the ``rollout.n`` sessions of a GRPO group repeat the same work n times
(64 preparations for the demo's 8 distinct prompts: on 2 cores the sessions reached the one generate call 0.35 s
after the first one started, 0.25 s with this cache; docs/benchmarks.md, issue 16). Both are deterministic
functions of the session's messages (and of the worker's processor and data config, fixed for its life), so
:class:`PromptCacheMixin` computes each once per distinct content and gives every session its own copy of the
result: the prompt token ids and images a session gets are the ones it would have computed itself.

- The key is a digest of the messages' content (text, and the images' paths or bytes as verl's dataset gives
  them), plus the tools and media for the token ids. A value the digest cannot encode exactly (an unknown object
  type) is not cached: that session prepares its prompt as verl does.
- Sessions of one group start together, before any has finished, so the cache holds the in-flight task, not
  only its result: the second to n-th sessions await the first one's preparation instead of repeating it.
- Image files are read once per distinct path within the cache's life (bounded, least recently used first out):
  a file rewritten during a run is not re-read until its entry leaves the cache.
- A GDQA variant is another text, so another entry: a group of K variants prepares K prompts.
- Only the token ids are shared, not the processor outputs verl's builder can copy into ``mm_inputs_out`` (pixel
  values, megabytes per image): verl's single-turn loop reads those only for SGLang's video payload, and a prompt
  with videos is never cached (its frames are tensors the key does not encode).

``anatomy_r1.prompt_cache: false`` turns it off (verl's behaviour, one preparation per session).
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from anatomy_r1_verl.config.anatomy_r1 import anatomy_r1_config

# per worker process and kind. A group's sessions ask for their prompt one after another as verl starts them, so
# sharing needs only the entries of the prompts being started; the bound caps the images held (a few MB each at
# Qwen2.5-VL's default max_pixels)
MAX_ENTRIES = 64


class Unkeyable(TypeError):
    """The value holds an object whose content the digest cannot encode exactly."""


def _feed(h, obj: Any) -> None:
    """Feed ``obj``'s content into hash ``h``, tagged by type so that different values never collide."""
    if obj is None or isinstance(obj, (bool, int, float)):
        h.update(b"v" + repr((type(obj).__name__, obj)).encode())
    elif isinstance(obj, str):
        b = obj.encode()
        h.update(b"s%d:" % len(b) + b)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        b = bytes(obj)
        h.update(b"b%d:" % len(b) + b)
    elif isinstance(obj, dict):
        h.update(b"d%d:" % len(obj))
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(b"l%d:" % len(obj))
        for x in obj:
            _feed(h, x)
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            _feed(h, obj.tolist())
        else:
            h.update(b"a" + repr((obj.dtype.str, obj.shape)).encode())
            h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, np.generic):
        _feed(h, obj.item())
    elif type(obj).__module__.startswith("PIL.") and hasattr(obj, "tobytes"):
        h.update(b"i" + repr((obj.mode, obj.size)).encode())
        h.update(obj.tobytes())
    else:
        raise Unkeyable(f"cannot key a {type(obj).__module__}.{type(obj).__name__}")


def content_key(*parts: Any) -> str | None:
    """A digest of ``parts``' content, or None when one of them cannot be encoded exactly."""
    h = hashlib.blake2b(digest_size=20)
    try:
        for p in parts:
            _feed(h, p)
    except Unkeyable:
        return None
    return h.hexdigest()


class AsyncMemo:
    """Least-recently-used memo of coroutine results, sharing a computation that is still running."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._tasks: OrderedDict[str, asyncio.Future] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def get(self, key: str | None, compute):
        """``await compute()`` once per key (``compute`` is a zero-argument coroutine function)."""
        if key is None:
            return await compute()
        task = self._tasks.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.ensure_future(compute())
            self._tasks[key] = task
            while len(self._tasks) > self.max_entries:
                self._tasks.popitem(last=False)
        else:
            self.hits += 1
            self._tasks.move_to_end(key)
        try:
            return await asyncio.shield(task)
        except BaseException:
            if self._tasks.get(key) is task and task.done():
                del self._tasks[key]  # a failure is not kept: the next session tries again
            raise


# one memo per event loop (a task belongs to the loop that runs it) and per kind of preparation
_MEMOS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncMemo]] = weakref.WeakKeyDictionary()


def memo(kind: str) -> AsyncMemo:
    loop = asyncio.get_running_loop()
    per_loop = _MEMOS.setdefault(loop, {})
    return per_loop.setdefault(kind, AsyncMemo())


def _copy_media(data: dict) -> dict:
    return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in data.items()}


class PromptCacheMixin:
    """Agent-loop mixin (before verl's ``AgentLoopBase`` in the bases) sharing prompt preparation across sessions."""

    def _prompt_cache_enabled(self) -> bool:
        return anatomy_r1_config(self.config).prompt_cache

    async def process_multi_modal_info(self, messages: list[dict]) -> dict:
        parent = super().process_multi_modal_info
        if not self._prompt_cache_enabled():
            return await parent(messages)
        data = await memo("multi_modal_info").get(content_key(messages), lambda: parent(messages))
        return _copy_media(data)

    async def ct_build_initial_tokens(
        self, messages, tools=None, images=None, videos=None, audios=None, mm_inputs_out=None
    ) -> list[int]:
        parent = super().ct_build_initial_tokens
        if not self._prompt_cache_enabled():
            return await parent(
                messages, tools=tools, images=images, videos=videos, audios=audios, mm_inputs_out=mm_inputs_out
            )

        key = None if videos else content_key(messages, tools, images, audios)
        if key is None:
            return await parent(
                messages, tools=tools, images=images, videos=videos, audios=audios, mm_inputs_out=mm_inputs_out
            )
        ids = await memo("initial_tokens").get(
            key, lambda: parent(messages, tools=tools, images=images, videos=videos, audios=audios)
        )
        return list(ids)
