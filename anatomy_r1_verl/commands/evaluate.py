"""``anatomy-r1 eval``: accuracy and format rate of a model on test parquet files, with 95 % intervals.

    anatomy-r1 eval MODEL PARQUET [PARQUET ...] [--out DIR] [--method NAME] [--seed N]
                    [--samples K --temperature T] [--batch-size B] [--max-new-tokens L] [--limit N]
                    [--engine hf|hfcpu|vllm [--replicas N] [--recipe R] [--set KEY=VALUE ...]] [--resume]
    anatomy-r1 eval --rescore DIR

``--engine hf`` (the default) generates with Hugging Face ``generate`` in this process, on the CPU or one CUDA
device. ``--engine vllm`` serves the model from verl's vLLM rollout replicas on the Ray cluster (joined through
``RAY_ADDRESS``, else a local one), ``--engine hfcpu`` from the project's CPU replicas; ``--replicas N`` (default:
the cluster's GPUs // the tensor-parallel size of the recipe's model preset) and the questions are spread over
them (:mod:`anatomy_r1_verl.evaluation.replicas`). Answers are appended to responses.jsonl as they finish; after a
failure, the same command with ``--resume`` generates only the missing questions.

MODEL is a Hugging Face model directory or a verl checkpoint (``global_step_N`` or ``global_step_N/actor``,
merged once by verl's ``verl.model_merger`` into ``global_step_N/merged_hf``, a LoRA run's adapter folded in).
For a checkpoint of an ``anatomy-r1 train`` run, the response length, temperature, top-p and samples default to
the run's validation settings (its saved config.yaml), so that the accuracy reproduces its ``val-core`` number;
a flag overrides one, and says so. Writes DIR/responses.jsonl,
metrics.json and metrics.csv (:mod:`anatomy_r1_verl.evaluation.results`); DIR defaults to
``$ANATOMY_R1_OUTPUT_DIR/evals/<method>/seed<seed>``, the layout ``anatomy-r1 report`` collects.
``--rescore DIR`` scores DIR/responses.jsonl again with today's reward functions, without generating.
"""

from __future__ import annotations

import argparse
import json
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="anatomy-r1 eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", nargs="?", help="HF model directory or verl checkpoint (global_step_N[/actor])")
    p.add_argument("parquets", nargs="*", help="test parquet files in the project's row format")
    p.add_argument("--rescore", metavar="DIR", help="re-score DIR/responses.jsonl; no generation")
    p.add_argument("--out", help="output folder (default $ANATOMY_R1_OUTPUT_DIR/evals/<method>/seed<seed>)")
    p.add_argument("--method", help="row name in reports (default: the run's experiment name, else the model dir name)")
    p.add_argument(
        "--seed", type=int, default=None, help="the model's training seed (default: its run's data.seed, or 0)"
    )
    run_default = "; default: the run's validation setting for a checkpoint of an `anatomy-r1 train` run, else "
    p.add_argument(
        "--samples", type=int, default=None, help="K responses per question (mean@K, pass@K)" + run_default + "1"
    )
    p.add_argument("--temperature", type=float, default=None, help="0 = greedy; K > 1 needs T > 0" + run_default + "0")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling" + run_default + "1.0")
    p.add_argument("--sampling-seed", type=int, default=0)
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="response length" + run_default + "64 (data.max_response_length)",
    )
    p.add_argument("--batch-size", type=int, default=32, help="questions per generate call (--engine hf)")
    p.add_argument(
        "--engine",
        choices=("hf", "hfcpu", "vllm"),
        default="hf",
        help="hf: HF generate in this process; vllm / hfcpu: verl's rollout replicas on Ray (default hf)",
    )
    p.add_argument(
        "--replicas", type=int, default=None, help="rollout replicas (default: cluster GPUs // tp; 1 on CPU)"
    )
    p.add_argument(
        "--recipe",
        default=None,
        help="serving settings (tensor parallel, engine kwargs) from this recipe (default: the run's recipe for a "
        "checkpoint, else ssgvqa_grpo with GPUs, demo_cpu without)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the serving config (repeatable), e.g. actor_rollout_ref.rollout.tensor_model_parallel_size=4",
    )
    p.add_argument("--in-flight", type=int, default=64, help="requests outstanding per replica (default 64)")
    p.add_argument(
        "--resume", action="store_true", help="keep the answers already in the output folder; generate the rest"
    )
    p.add_argument("--limit", type=int, default=None, help="first N rows of each file")
    p.add_argument("--device", default="auto", help="--engine hf: cpu | cuda | auto (cuda when available)")
    p.add_argument(
        "--merged-dir", default=None, help="where a verl checkpoint is merged (default global_step_N/merged_hf)"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print metrics.json instead of the summary")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    from anatomy_r1_verl.evaluation import results
    from anatomy_r1_verl.evaluation.inputs import EvalInputError
    from anatomy_r1_verl.evaluation.replicas import ReplicaDied
    from anatomy_r1_verl.launch.recipes import RecipeError

    try:
        if a.rescore:
            if a.model or a.parquets:
                print("anatomy-r1 eval: --rescore DIR takes no model or parquet", file=sys.stderr)
                return 2
            out, metrics = a.rescore, results.rescore(a.rescore)
        else:
            if not a.model or not a.parquets:
                print(
                    "anatomy-r1 eval: give MODEL and at least one PARQUET (or --rescore DIR); see --help",
                    file=sys.stderr,
                )
                return 2
            import torch

            from anatomy_r1_verl.evaluation.evaluate import generation_settings, run_eval

            device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
            given = dict(
                samples=a.samples,
                temperature=a.temperature,
                top_p=a.top_p,
                max_new_tokens=a.max_new_tokens,
                batch_size=a.batch_size,
                seed=a.sampling_seed,
            )
            cfg, notes = generation_settings(a.model, given)
            for note in notes:
                print(f"[anatomy-r1 eval] {note}", flush=True)
            factory = None
            if a.engine != "hf":
                from anatomy_r1_verl.evaluation.evaluate import run_provenance
                from anatomy_r1_verl.launch.serve import ServeSettings, start_engine

                serve = ServeSettings(
                    a.engine, a.replicas, a.recipe, a.overrides, a.in_flight, run_provenance(a.model).get("recipe")
                )
                serve.validate()

                def factory(model_dir):
                    return start_engine(serve, model_dir, cfg)

            out, metrics = run_eval(
                a.model,
                a.parquets,
                a.out,
                cfg=cfg,
                method=a.method,
                seed=a.seed,
                limit=a.limit,
                device=device,
                merged_dir=a.merged_dir,
                progress=not a.no_progress,
                settings_from=notes,
                engine_factory=factory,
                resume=a.resume,
            )
    except (EvalInputError, FileNotFoundError, ValueError, RecipeError) as e:
        print(f"anatomy-r1 eval: {e}", file=sys.stderr)
        return 2
    except ReplicaDied as e:
        print(f"anatomy-r1 eval: {e}\n" + "\n".join(getattr(e, "__notes__", [])), file=sys.stderr)
        return 1
    print(json.dumps(metrics, indent=1) if a.json else results.format_summary(metrics))
    print(f"[anatomy-r1 eval] wrote {out}/responses.jsonl, metrics.json, metrics.csv ({metrics['interval']})")
    return 0
