"""The judge's calibration: its verdicts against a person's, on the fleet's labelled apps.

The labels are the fleet's `calibration.toml` (see examples/fleet/calibration.toml): per app,
the requirement ids it meets, those it misses (with why) and those left out as uncertain.
Measured over the labelled requirements: the share of unusable answers (no verdict: failed),
and over the ones the judge gave a verdict for: accuracy, precision and recall of "met"
(and of "not met"), Cohen's kappa (statsmodels) with its n. Requirements no model could
check (unavailable) are counted apart and never as a verdict.
"""

from __future__ import annotations

import math
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    CalibrationFigures,
    RequirementResult,
    VerdictStatus,
)

FILE_NAME = "calibration.toml"
Reason = Annotated[str, Meta(max_length=2000)]


class LabelledApp(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model: Annotated[str, Meta(min_length=1, max_length=128)]
    app: Annotated[int, Meta(ge=1, le=99_999)]
    met: list[str] = msgspec.field(default_factory=list)
    not_met: dict[str, Reason] = msgspec.field(default_factory=dict)
    uncertain: dict[str, Reason] = msgspec.field(default_factory=dict)

    def labels(self) -> dict[str, bool]:
        return {**{r: True for r in self.met}, **{r: False for r in self.not_met}}


class _File(msgspec.Struct, forbid_unknown_fields=True):
    app: list[LabelledApp]


@dataclass(frozen=True)
class Label:
    model: str
    app: int
    requirement: str
    met: bool


def parse(data: bytes, where: str) -> list[LabelledApp]:
    try:
        raw = tomllib.loads(data.decode("utf-8"))
        apps = msgspec.convert(raw, _File).app
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{where}: not valid TOML: {exc}") from exc
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"{where}: not a calibration set: {exc}") from exc
    seen: set[tuple[str, int]] = set()
    for a in apps:
        if (a.model, a.app) in seen:
            raise InvalidInput(f"{where}: {a.model}/app{a.app} is labelled twice")
        seen.add((a.model, a.app))
        ids = [*a.met, *a.not_met, *a.uncertain]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise InvalidInput(
                f"{where}: {a.model}/app{a.app}: {', '.join(twice)} labelled more than once"
            )
    return apps


def load(fleet: Fleet) -> list[Label]:
    """Every label of the fleet's calibration set, checked against the fleet and its specs:
    NotFound without a set, InvalidInput (with the reason) for one that does not fit."""
    from ai_svc import requirements

    path = Path(fleet.root) / FILE_NAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotFound(
            f"the fleet at {fleet.root} has no calibration set ({FILE_NAME}): {exc.strerror}"
        ) from exc
    labels: list[Label] = []
    for a in parse(data, FILE_NAME):
        try:
            fleet.app(a.model, a.app)
            spec = requirements.for_app(fleet, a.app)
        except (NotFound, InvalidInput) as exc:
            raise InvalidInput(f"{FILE_NAME}: {a.model}/app{a.app}: {exc}") from exc
        known = {r.id for r in spec.requirements()}
        unknown = sorted({*a.met, *a.not_met, *a.uncertain} - known)
        if unknown:
            raise InvalidInput(
                f"{FILE_NAME}: {a.model}/app{a.app}: unknown requirement(s) {', '.join(unknown)}"
            )
        for rid, met in sorted(a.labels().items()):
            labels.append(Label(a.model, a.app, rid, met))
    if not labels:
        raise InvalidInput(f"{FILE_NAME}: no requirement is labelled met or not met")
    return labels


def figures(pairs: list[tuple[bool, RequirementResult]]) -> CalibrationFigures:
    """The judge's figures from (the person's label, the judge's result) pairs."""
    from statsmodels.stats.inter_rater import cohens_kappa  # type: ignore[import-untyped]
    from statsmodels.stats.proportion import proportion_confint  # type: ignore[import-untyped]

    f = CalibrationFigures(labelled=len(pairs))
    tp = fp = fn = tn = 0
    for truth, r in pairs:
        if r.status == VerdictStatus.UNAVAILABLE:
            f.unavailable += 1
        elif r.status != VerdictStatus.VERDICT or r.met is None:
            f.unusable += 1
        elif r.met and truth:
            tp += 1
        elif r.met:
            fp += 1
        elif truth:
            fn += 1
        else:
            tn += 1
    f.confusion = [[tp, fn], [fp, tn]]  # rows: the person's met, not met; columns: the judge's
    asked = f.labelled - f.unavailable
    f.n = tp + fp + fn + tn
    if asked:
        f.unusable_share = f.unusable / asked
    if f.n:
        correct = tp + tn
        f.accuracy = correct / f.n
        low, high = proportion_confint(correct, f.n, alpha=0.05, method="wilson")
        f.accuracy_ci95 = (float(low), float(high))
    f.precision = tp / (tp + fp) if tp + fp else None
    f.recall = tp / (tp + fn) if tp + fn else None
    f.not_met_precision = tn / (tn + fn) if tn + fn else None
    f.not_met_recall = tn / (tn + fp) if tn + fp else None
    if f.n:
        with warnings.catch_warnings():  # a 0 variance (one rater constant) is a NaN interval
            warnings.simplefilter("ignore", RuntimeWarning)
            k = cohens_kappa([[tp, fn], [fp, tn]], return_results=True)
        if math.isfinite(k.kappa):
            f.kappa = float(k.kappa)
            if math.isfinite(k.kappa_low) and math.isfinite(k.kappa_upp):
                f.kappa_ci95 = (float(k.kappa_low), float(k.kappa_upp))
        else:  # chance agreement 1: the person and the judge each said one and the same
            f.kappa_note = "undefined: every label and every verdict is the same"
    return f
