"""`genfleet analysis-calibrate`: the requirements judge against the fleet's labelled
verdicts (calibration.toml): accuracy, precision, recall, Cohen's kappa, unusable answers."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from genfleet_cli.client import Api, ApiError

if TYPE_CHECKING:
    from genfleet_common.messages import CalibrationRequest

POLL_S = 2.0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def table(run: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    f = run["figures"]
    console = Console()
    console.print(
        f"judge {run['llm_id']} (prompt {run['prompt_version']}): calibration "
        f"{run['calibration_id']} {run['state']}" + (f" ({run['error']})" if run["error"] else "")
    )
    t = Table("figure", "value", "over", box=None)
    asked = f["labelled"] - f["unavailable"]
    ci = f.get("accuracy_ci95")
    t.add_row(
        "accuracy",
        _pct(f["accuracy"]) + (f" (95% {_pct(ci[0])}-{_pct(ci[1])})" if ci else ""),
        f"n={f['n']} verdicts",
    )
    t.add_row("precision (met)", _pct(f["precision"]), "the judge's met")
    t.add_row("recall (met)", _pct(f["recall"]), "labelled met")
    t.add_row("precision (not met)", _pct(f["not_met_precision"]), "the judge's not met")
    t.add_row("recall (not met)", _pct(f["not_met_recall"]), "labelled not met")
    kappa = "-" if f["kappa"] is None else f"{f['kappa']:.3f}"
    kci = f.get("kappa_ci95")
    t.add_row(
        "Cohen's kappa",
        kappa + (f" (95% {kci[0]:.2f} to {kci[1]:.2f})" if kci else "") + f" {f['kappa_note']}",
        f"n={f['n']}",
    )
    t.add_row("unusable answers", _pct(f["unusable_share"]), f"{f['unusable']} of {asked} asked")
    t.add_row("not asked (unavailable)", str(f["unavailable"]), f"of {f['labelled']} labelled")
    console.print(t)
    (tp, fn), (fp, tn) = f["confusion"]
    console.print(
        f"labelled met: judged met {tp}, not met {fn}; labelled not met: judged met {fp}, "
        f"not met {tn}"
    )


def calibrate(api: Api, body: CalibrationRequest, *, as_json: bool) -> bool:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    try:
        run = api.post("/api/calibrations", body)
        with Progress(
            TextColumn("calibration"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            console=Console(stderr=True),  # stdout is for the result (--json too)
        ) as progress:  # fmt: skip
            bar = progress.add_task("", total=100)
            while run["state"] == "RUNNING":
                time.sleep(POLL_S)
                run = api.get(api.path("api", "calibrations", run["calibration_id"]))
                progress.update(bar, completed=run["progress"])
    except ApiError as exc:
        import sys

        print(f"genfleet: {exc.message}", file=sys.stderr)
        return False
    if as_json:
        print(json.dumps(run, indent=2))
    else:
        table(run)
    return bool(run["state"] == "COMPLETE")
