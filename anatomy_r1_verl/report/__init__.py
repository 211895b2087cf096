"""The paper's tables and figures: :mod:`.tables` collects ``anatomy-r1 eval`` folders into one table (rows =
methods, columns = benchmarks and breakdowns, mean ± spread over seeds); :mod:`.figures` draws Figures 1-2
from training runs' ``metrics.jsonl``. Command: ``anatomy-r1 report`` (:mod:`anatomy_r1_verl.commands.report`)."""
