"""benchmarks/h2_bars.py on a bench folder where the answer is known: a row that gains only on the hard questions
meets issue 30's H2 bars; a row that also loses the easy questions misses the Q1 bar, and says so."""

import importlib.util
from pathlib import Path

import pytest

from anatomy_r1_verl.evaluation import results
from tests.helpers import scored_record

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("h2_bars", ROOT / "benchmarks" / "h2_bars.py")
h2_bars = importlib.util.module_from_spec(spec)
spec.loader.exec_module(h2_bars)

N = 100
OPTIONS = {
    # the answer's closest look-alike (Omentum) listed on the odd questions
    True: ["Gut", "Omentum", "Liver", "Abdominal Wall Cavity"],
    False: ["Gut", "Cystic Plate", "Liver", "Abdominal Wall Cavity"],
}


def _eval(out: Path, method: str, seed: int, right) -> None:
    recs = []
    for i in range(N):
        said = "Gut" if right(i) else "Liver"
        response = f"<think>The center is {said}.</think><answer>{said}</answer>"
        recs.append(scored_record(i, response, "Gut", OPTIONS[i % 2 == 1], s_q=i / N))
    path = out / "evals" / method / f"seed{seed}"
    path.mkdir(parents=True)
    results.write_responses(path, recs)
    results.write_metrics(path, recs, {"method": method, "seed": seed})


def test_a_gain_on_the_hard_quintiles_alone_meets_the_bars_and_an_easy_loss_misses_one(tmp_path):
    _eval(tmp_path, "start", 0, lambda i: i < 60)  # right on the easiest three fifths of S(q)
    for seed in (0, 1):
        _eval(tmp_path, "sharp", seed, lambda i: True)
        _eval(tmp_path, "shortcut", seed, lambda i: i >= 20)  # gains the hard questions, loses Q1
    res = h2_bars.bars(tmp_path, None)
    sharp, shortcut = res["rows"]["sharp"][0], res["rows"]["shortcut"][1]
    assert sharp["Q4+Q5"]["diff"] == pytest.approx(1.0) and sharp["Q1"]["diff"] == 0.0
    assert shortcut["Q1"]["diff"] == pytest.approx(-1.0) and shortcut["Q1"]["p"] < 1e-5
    assert sharp["think_answer"] == 1.0 and res["n"] == {
        "all": 100,
        "Q1": 20,
        "Q4+Q5": 40,
        "listed": 50,
        "not listed": 50,
    }
    assert res["verdicts"]["sharp"]["met"] and not res["verdicts"]["shortcut"]["met"]
    assert res["verdicts"]["shortcut"]["bars"] == {
        "Q4+Q5 >= +8": True,
        "Q1 >= -2": False,
        "listed >= not listed": True,
        "think/answer >= 0.95": True,
    }
    md = h2_bars.markdown(res)
    assert "- sharp: H2 **met**" in md and "- shortcut: H2 **missed** (Q4+Q5 >= +8: held, Q1 >= -2: missed" in md
