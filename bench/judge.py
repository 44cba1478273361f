"""The requirements judge on the demo fleet's calibration set, with the local default model
(SmolLM2-135M through GPT4All, in-process): `judge_usable_share`, the share of labelled
requirements it answered with a usable verdict (goal >= 0.9), and its calibration figures
(accuracy, precision, recall, Cohen's kappa) printed beside it.

ai-svc's own Analysis, prompt, parser and time budget, with the service's default settings
except the context window (CONTEXT, as the tests: a 4096-token prompt per requirement would
take the run past an hour on 2 shared cores). Every answer is written to
JUDGE_ANSWERS, so what the model really said can be read (and tested against).
Called by run.py; runnable alone."""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from ai_svc import calibration, requirements
from ai_svc.analysis import Analysis
from ai_svc.backends.gpt4all import Gpt4AllBackend, Gpt4AllModels
from ai_svc.modelprep import PATCHED_NAME
from genfleet_common.fleet import Fleet
from genfleet_common.localmodel import PROJECT_MODELS
from genfleet_common.messages import (
    AnalysisStatus,
    Backend,
    JobState,
    RequirementResult,
)
from genfleet_common.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
FLEET = REPO / "examples" / "fleet"
CONTEXT = 1024
JUDGE_ANSWERS = REPO / "bench-judge-answers.json"


async def judge(
    fleet: Fleet, labels: list[calibration.Label], backend: Gpt4AllBackend, settings: Settings
) -> list[tuple[bool, RequirementResult]]:
    by_app: dict[tuple[str, int], list[calibration.Label]] = defaultdict(list)
    for label in labels:
        by_app[(label.model, label.app)].append(label)
    pairs: list[tuple[bool, RequirementResult]] = []
    for (model, number), mine in by_app.items():
        app = fleet.app(model, number)
        spec = requirements.for_app(fleet, number)
        chosen = requirements.choose(spec, [label.requirement for label in mine])
        status = AnalysisStatus(
            analysis_id="bench", model=model, app=number, backend=Backend.GPT4ALL,
            llm=backend.name, llm_id=backend.llm_id, state=JobState.QUEUED,
        )  # fmt: skip

        truth = {label.requirement: label.met for label in mine}
        done = list(pairs)

        async def publish(
            _: AnalysisStatus,
            r: RequirementResult | None,
            truth: dict[str, bool] = truth,
            done: list[tuple[bool, RequirementResult]] = done,
        ) -> None:
            if r is not None:  # kept as it comes: a run cut short still shows its answers
                done.append((truth[r.requirement.id], r))
                write_answers(done)

        analysis = Analysis(
            status, app_dir=Path(app.path), spec=spec, requirements=chosen, backend=backend,
            cache=None, max_tokens=settings.ai_max_tokens, retries=settings.ai_retries,
            publish=publish, seconds=settings.ai_requirement_timeout_s,
        )  # fmt: skip
        started = time.perf_counter()
        await analysis.run()
        pairs += [(truth[r.requirement.id], r) for r in analysis.results]
        print(
            f"  {model}/app{number}: "
            + " ".join(f"{r.requirement.id}={_short(r)}" for r in analysis.results)
            + f" ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return pairs


def write_answers(pairs: list[tuple[bool, RequirementResult]]) -> None:
    JUDGE_ANSWERS.write_text(
        json.dumps(
            [
                {"requirement": r.requirement.id, "labelled_met": truth, "status": r.status,
                 "met": r.met, "attempts": r.attempts, "seconds": r.seconds, "raw": r.raw,
                 "error": r.error}
                for truth, r in pairs
            ],
            indent=1,
        )
        + "\n"
    )  # fmt: skip


def _short(r: RequirementResult) -> str:
    if r.status.value == "verdict":
        return "MET" if r.met else "NOT_MET"
    return r.status.value


async def measure(results: dict[str, Any], record: Any) -> None:
    model_file = PROJECT_MODELS / PATCHED_NAME
    if not model_file.is_file():
        print(f"  judge: {model_file} is missing (scripts/setup.sh prepares it)")
        return
    # the defaults, or GENFLEET_AI_* from the environment (e.g. GENFLEET_AI_THREADS=1 on a
    # loaded machine: llama.cpp's threads wait on each other when a core is taken away)
    settings = msgspec.structs.replace(load_settings(), ai_context=CONTEXT)
    fleet = Fleet.load(FLEET)
    labels = calibration.load(fleet)
    threads = settings.ai_threads or os.cpu_count() or 1
    models = Gpt4AllModels(PROJECT_MODELS, CONTEXT, threads)
    backend = Gpt4AllBackend(models, PATCHED_NAME)
    started = time.perf_counter()
    try:
        pairs = await judge(fleet, labels, backend, settings)
    finally:
        models.close()
    f = calibration.figures(pairs)
    print(
        f"  {f.labelled} labelled requirements in {time.perf_counter() - started:.0f} s: "
        f"{f.n} verdicts, {f.unusable} unusable, {f.unavailable} unavailable; accuracy "
        f"{f.accuracy}, precision {f.precision}, recall {f.recall}, kappa {f.kappa} "
        f"{f.kappa_note}(n={f.n}); answers in {JUDGE_ANSWERS.name}"
    )
    if f.unusable_share is None:
        print("  judge: no answer at all (the model was unavailable)")
        return
    record(results, "judge_usable_share", 1 - f.unusable_share, "share", ">= 0.9")
    results["judge_usable_share"] |= {
        "n": f.labelled - f.unavailable,
        "calibration": {
            "accuracy": f.accuracy, "precision": f.precision, "recall": f.recall,
            "kappa": f.kappa, "n": f.n, "context": CONTEXT,
        },
    }  # fmt: skip


if __name__ == "__main__":
    import asyncio

    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    asyncio.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
