"""Launching a run: a recipe composed into verl's config (:mod:`.compose`), checked before anything starts
(:mod:`.checks`), the environment of its processes (:mod:`.env`), and verl's trainer run on it, locally or on a
running Ray cluster, with the final report line (:mod:`.run`). The ``anatomy-r1 train``/``demo`` commands and the
``bench`` call these functions.
"""
