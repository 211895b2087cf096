"""Launching a run: a recipe found (:mod:`.recipes`) and composed into verl's config with the typed ``anatomy_r1``
block checked (:mod:`.compose`), checked before anything starts (:mod:`.checks`), the environment of its processes
(:mod:`.env`), and verl's trainer run on it, locally or on a running Ray cluster (watched by :mod:`.watchdog`),
with the final report line (:mod:`.run`). The ``anatomy-r1 train``/``demo``/``submit`` commands and the ``bench``
call these functions; nothing here imports :mod:`anatomy_r1_verl.commands`.
"""
