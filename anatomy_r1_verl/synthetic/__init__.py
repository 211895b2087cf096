"""The synthetic surgical-scene benchmark engine: scenes (:mod:`.scene`), SSG-VQA-style question programs
(:mod:`.questions`) and the parquet generator (:mod:`.generator`). Its command is ``anatomy-r1 prepare
synthetic`` (:mod:`data_prep.synthetic`); the runtime imports this engine, never ``data_prep``."""
