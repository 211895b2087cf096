"""The pieces of ``anatomy-r1 eval --engine`` that need no Ray: the response log that ``--resume`` reads, the
per-request seeds, the sampling parameters, and how the serving recipe is chosen."""

import json

import pytest

from anatomy_r1_verl.evaluation.generate import GenerationConfig
from anatomy_r1_verl.evaluation.replicas import request_seed, sampling_params
from anatomy_r1_verl.evaluation.results import RESPONSES, ResponseLog, ResumeError
from anatomy_r1_verl.launch.serve import ServeSettings, serving_recipe

CONTRACT = {"model_dir": "/m", "files": ["/a.parquet"], "samples": 2, "temperature": 1.0}


def _rec(row, sample, file="/a.parquet"):
    return {"file": file, "row": row, "sample": sample, "response": f"r{row}.{sample}"}


def test_resume_keeps_complete_questions_and_regenerates_the_rest(tmp_path):
    log = ResponseLog(tmp_path, CONTRACT, samples=2)
    log.add([_rec(0, 0), _rec(0, 1)])
    log.add([_rec(1, 0)])  # question 1 lost its second sample
    log.close()
    with open(tmp_path / RESPONSES, "a") as f:
        f.write('{"file": "/a.parquet", "row": 2, "sam')  # cut short by a kill
    again = ResponseLog(tmp_path, CONTRACT, samples=2, resume=True)
    assert again.done("/a.parquet") == {0}
    assert "1 line(s) cut short" in again.notes[0] and "1 response(s)" in again.notes[0]
    again.add([_rec(2, 1), _rec(2, 0), _rec(1, 1), _rec(1, 0)])
    records = again.finish(["/a.parquet"])
    assert [(r["row"], r["sample"]) for r in records] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    on_disk = [json.loads(line) for line in (tmp_path / RESPONSES).read_text().splitlines()]
    assert on_disk == records


def test_without_resume_the_folder_starts_over(tmp_path):
    ResponseLog(tmp_path, CONTRACT, samples=2).add([_rec(0, 0), _rec(0, 1)])
    fresh = ResponseLog(tmp_path, CONTRACT, samples=2)
    assert fresh.records == [] and fresh.done("/a.parquet") == set()


def test_resume_refuses_answers_made_with_other_settings(tmp_path):
    ResponseLog(tmp_path, CONTRACT, samples=2).close()
    (tmp_path / RESPONSES).write_text(json.dumps(_rec(0, 0)) + "\n")
    with pytest.raises(ResumeError, match=r"--resume with temperature=0.7.*temperature=1.0.*another --out"):
        ResponseLog(tmp_path, {**CONTRACT, "temperature": 0.7}, samples=2, resume=True)


def test_request_seeds_depend_on_the_question_and_sample_only():
    seeds = {request_seed(0, f"test.parquet|q{i}", k) for i in range(50) for k in range(4)}
    assert len(seeds) == 200 and all(0 <= s < 2**31 for s in seeds)
    assert request_seed(0, "f|q1", 2) == request_seed(0, "f|q1", 2) != request_seed(1, "f|q1", 2)


def test_sampling_params_carry_the_evaluation_settings():
    p = sampling_params(GenerationConfig(samples=4, temperature=0.7, top_p=0.9, max_new_tokens=96))
    assert p["temperature"] == 0.7 and p["top_p"] == 0.9 and p["max_tokens"] == 96 and p["top_k"] == -1
    assert sampling_params(GenerationConfig())["temperature"] == 0.0


def test_serving_recipe_follows_the_run_then_the_hardware():
    recipe, overrides = serving_recipe(ServeSettings("vllm"), gpus=False)
    assert recipe == "demo_cpu" and overrides[:2] == ["profile=cpu_vllm", "actor_rollout_ref.rollout.name=vllm"]
    recipe, overrides = serving_recipe(ServeSettings("vllm", run_recipe="/r/ssgvqa_dapo.yaml"), gpus=True)
    assert recipe == "/r/ssgvqa_dapo.yaml" and overrides == ["actor_rollout_ref.rollout.name=vllm"]
    given = ServeSettings("hfcpu", recipe="x", overrides=["a.b=1"], run_recipe="y")
    assert serving_recipe(given, gpus=False) == ("x", ["profile=cpu", "actor_rollout_ref.rollout.name=hfcpu", "a.b=1"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (ServeSettings("sglang"), "replica engines"),
        (ServeSettings("vllm", replicas=0), "--replicas"),
        (ServeSettings("vllm", overrides=["profile"]), "KEY=VALUE"),
    ],
)
def test_serve_settings_name_the_bad_flag(settings, message):
    with pytest.raises(ValueError, match=message):
        settings.validate()


def test_an_sft_run_is_served_with_an_rl_recipe():
    from anatomy_r1_verl.launch.recipes import RecipeError
    from anatomy_r1_verl.launch.serve import compose_serving, tensor_parallel

    recipe, cfg = compose_serving(ServeSettings("hfcpu", run_recipe="ssgvqa_sft"), gpus=False)
    assert recipe == "demo_cpu" and cfg.actor_rollout_ref.rollout.name == "hfcpu"
    recipe, cfg = compose_serving(ServeSettings("vllm", run_recipe="ssgvqa_sft"), gpus=True)
    assert recipe == "ssgvqa_grpo" and tensor_parallel(cfg) == 2  # the 7B preset's tensor-parallel size
    with pytest.raises(RecipeError, match="SFT recipe has no rollout"):
        compose_serving(ServeSettings("vllm", recipe="ssgvqa_sft"), gpus=True)
