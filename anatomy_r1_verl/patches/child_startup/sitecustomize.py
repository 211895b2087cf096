"""Start-up hook for Python processes spawned below a verl process that uses vLLM (vLLM's engine core and
workers never import verl, so the project's plugin does not run there). The patch ``vllm_child_startup`` puts
this folder first on ``PYTHONPATH``; Python imports this module at start-up (``site``). It installs the
import guards of :mod:`anatomy_r1_verl.patches.import_guards` (nothing heavy is imported here), then runs the
``sitecustomize`` this one shadows, if any."""

import importlib.machinery
import importlib.util
import os
import sys

try:
    from anatomy_r1_verl.patches import import_guards

    import_guards.install()
except Exception as e:  # start-up must not die here, but must not be silent either
    print(f"anatomy_r1_verl child_startup: import guards not installed: {type(e).__name__}: {e}", file=sys.stderr)

_here = os.path.dirname(os.path.abspath(__file__))
for _entry in sys.path:
    if os.path.abspath(_entry or os.curdir) == _here:
        continue
    _spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [_entry])
    if _spec is not None and _spec.loader is not None:
        _mod = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_mod)
        break
