"""The model card: what a registry version says about itself (its card.json), as a typed record.

Built by training, written once at registration, read by the registry, scoring, `churn models show` and
the dashboard. The JSON keys are the field names (sections are nested records); keys a card holds that
this record does not know are kept in `extra`, so a card read and written again loses nothing, and a card
missing a key (an older release's) loads with that field's default. Only the standard library here: the
dashboard reads cards without loading the model stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self

_OMIT_NONE = "omit_none"  # field metadata: the key is left out of the JSON while the value is None
_RECORD = "record"  # field metadata: the value is a nested record
_RECORDS = "records"  # field metadata: the value is a dict of nested records


def _optional() -> Any:
    return field(default=None, metadata={_OMIT_NONE: True})


def _record(cls: type) -> Any:
    return field(default_factory=cls, metadata={_RECORD: cls})


def _records(cls: type) -> Any:
    return field(default_factory=dict, metadata={_RECORDS: cls})


class _Json:
    """JSON in and out by field name, for the card and its sections."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            if _RECORD in f.metadata:
                value = f.metadata[_RECORD].from_dict(value) if isinstance(value, Mapping) else f.default_factory()
            elif _RECORDS in f.metadata:
                kind = f.metadata[_RECORDS]
                items = value.items() if isinstance(value, Mapping) else ()
                value = {str(k): kind.from_dict(v) for k, v in items if isinstance(v, Mapping)}
            values[f.name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if not (value is None and f.metadata.get(_OMIT_NONE)):
                out[f.name] = _plain(value)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, _Json):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class DataSummary(_Json):
    """One part of the data (`training`, `test`): its size, outcome mix, cohort dates and days of trial."""

    rows: int = 0
    groups: int = 0
    churned: int = 0
    churn_rate: float | None = None
    date_min: str | None = _optional()  # first and last evaluation start date, when the data has dates
    date_max: str | None = _optional()
    as_of_days: list[int] | None = _optional()
    fingerprint: str | None = _optional()  # of the training rows only


@dataclass
class TuningSummary(_Json):
    """The hyper-parameter search: the chosen trial's CV ROC AUC and every trial tried."""

    cv_auc: float | None = None
    trials: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Thresholds(_Json):
    """The candidate cut-offs and the rule that chose `ModelCard.threshold`."""

    rule: str = "f2"
    f2: float | None = None
    capacity: float | None = None
    capacity_per_week: int | None = None
    evaluators_per_week: float | None = _optional()


@dataclass
class CalibrationSummary(_Json):
    method: str = ""
    ece_uncalibrated: float | None = None
    ece: float | None = None
    fitted_on: str = ""


@dataclass
class Ranking(_Json):
    """ROC and PR AUC of one evaluation (a split, or another model on the same rows)."""

    split: dict[str, Any] | None = _optional()
    roc_auc: float | None = None
    pr_auc: float | None = None
    rows: int = 0
    roc_auc_by_day: dict[str, float | None] | None = _optional()


@dataclass
class ModelCard(_Json):
    """Everything known about one model version. Tables (metrics, curves, lift, ...) stay JSON-shaped."""

    version: str = ""
    profile: str = ""
    parent: str | None = None
    dataset: str = "evaluators"
    target: str = "churn"
    positive_class: str = "churned (1 = churned, 0 = retained)"
    created_at: str = ""
    features: list[str] = field(default_factory=list)
    feature_types: list[str] = field(default_factory=list)
    dropped_features: dict[str, str] = field(default_factory=dict)  # feature -> why
    params: dict[str, Any] = field(default_factory=dict)  # XGBClassifier names
    num_boost_round: int = 0
    tuning: TuningSummary = _record(TuningSummary)
    training: DataSummary = _record(DataSummary)
    training_rows: int = 0
    test: DataSummary = _record(DataSummary)
    split: dict[str, Any] = field(default_factory=dict)  # primary: "time" or "random", and how it was cut
    threshold: float = 0.5
    thresholds: Thresholds = _record(Thresholds)
    # held-out evaluation (churn_core.model.evaluate.evaluation_report)
    metrics: dict[str, Any] = field(default_factory=dict)
    metrics_ci: dict[str, list[float]] = field(default_factory=dict)
    confusion_matrix: list[list[int]] = field(default_factory=list)  # actual x predicted [retained, churned]
    confusion_labels: dict[str, str] = field(default_factory=dict)
    classification_report: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)
    lift: list[dict[str, Any]] = field(default_factory=list)
    threshold_table: list[dict[str, Any]] = field(default_factory=list)
    metrics_by_day: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics_by_cohort: list[dict[str, Any]] | None = _optional()
    calibration: CalibrationSummary = _record(CalibrationSummary)
    evaluation: dict[str, Ranking] = _records(Ranking)  # by split kind
    comparison: dict[str, Ranking] = _records(Ranking)  # other profiles on the same rows
    feature_study: dict[str, Any] = field(default_factory=dict)  # churn_core.model.study.feature_study
    pipeline: dict[str, Any] = field(default_factory=dict)  # FeaturePipeline.to_dict
    calibrator: dict[str, Any] = field(default_factory=dict)  # Calibrator.to_dict
    data_source: dict[str, Any] = field(default_factory=dict)
    data_notes: list[str] = field(default_factory=list)
    library_versions: dict[str, str] = field(default_factory=dict)
    train_seconds: float = 0.0
    oracle_roc_auc: float | None = _optional()  # demo data: the true probability's ROC AUC on the same rows
    oracle_roc_auc_by_day: dict[str, float | None] | None = _optional()
    model_file: str | None = _optional()  # set at registration
    model_format: str | None = _optional()
    extra: dict[str, Any] = field(default_factory=dict)  # keys this record does not know, kept as read

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        known = {f.name for f in fields(cls)} - {"extra"}
        card = super().from_dict({k: v for k, v in data.items() if k in known})
        card.extra = {k: v for k, v in data.items() if k not in known}
        return card

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        extra = out.pop("extra")
        return {**out, **extra}
