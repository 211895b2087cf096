"""The benchmark engine: the paper's table rows trained side by side on the synthetic benchmark.

- :mod:`.grid`: which runs a comparison is made of (method rows -> recipes, seeds, one budget) and the exact
  ``anatomy-r1`` commands each run is, with nothing executed (unit-tested);
- :mod:`.data`: the benchmark's questions, generated, scored (ASCL) and augmented (GDQA) once, shared by all rows;
- :mod:`.runner`: runs the grid (train, then ``anatomy-r1 eval`` on the test split), resumable: a finished run is
  never rerun, an interrupted one resumes from its latest checkpoint;
- :mod:`.verdict`: the paper's claims checked on the results (accuracy per seed, invalid-gradient ratio per class,
  S(q) trend, method overhead per step).

``anatomy-r1 bench`` (:mod:`anatomy_r1_verl.commands.bench`) runs all four, then ``anatomy-r1 report``'s table
and figures.
"""
