"""The what-if: every input a marketer can reason about, changed, and the model's new risk and drivers.

The inputs are the raw columns the model's features are computed from (counts so far, day of trial, seats,
value, and the categories in words); the derived features (active users a day, share of seats active, ...)
follow from them through the model's stored pipeline, as they did when the evaluator was scored. An input
left empty is "no data", as the model saw it, not 0. With nothing changed the what-if gives the scored risk.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_core.model.features import FeaturePipeline
from churn_core.schema import FEATURES, NO_DATA, feature_text
from churn_core.views.explanation import shap_drivers, shown_values

DAY_RANGE = (1, 7)  # days of trial a snapshot describes


@dataclass(frozen=True)
class WhatIfInput:
    """One input of the what-if: a raw column, its label, and its choices (a category) or range (a number)."""

    column: str
    label: str
    options: tuple[str, ...] = ()  # a category's labels as the model knows them; empty for a number
    minimum: float = 0
    maximum: float | None = None
    step: float = 1  # 1: a whole number

    @property
    def usage(self) -> bool:
        """A count of what the evaluator did so far (else a fact about it)."""
        return self.column in FEATURES

    @staticmethod
    def option_text(option: str | None) -> str:
        return NO_DATA if option is None else option.replace("_", " ")


def what_if_inputs(pipeline: FeaturePipeline) -> list[WhatIfInput]:
    """Every raw column the model's features are computed from, in the pipeline's order."""
    out = []
    for column in pipeline.input_columns_:
        label = feature_text(column).label
        if column in pipeline.categories_:
            out.append(WhatIfInput(column, label, tuple(sorted(pipeline.categories_[column], key=_natural))))
        elif column == "as_of_day":
            out.append(WhatIfInput(column, label, minimum=DAY_RANGE[0], maximum=DAY_RANGE[1]))
        elif column == "team_size":
            out.append(WhatIfInput(column, label, minimum=1))
        elif feature_text(column).kind == "money":
            out.append(WhatIfInput(column, label, step=100))
        else:
            out.append(WhatIfInput(column, label))
    return out


def _natural(label: str) -> tuple[float, str]:
    """Sort key putting "11-50" after "1-10" and before "1001-5000": by the leading number, then the text."""
    digits = re.match(r"\d+", label)
    return (float(digits.group()) if digits else math.inf, label)


def derived_features(pipeline: FeaturePipeline) -> dict[str, tuple[str, ...]]:
    """The model's features computed from other inputs (ratios, sums), with the inputs they follow from."""
    out: dict[str, tuple[str, ...]] = {r.name: (r.numerator, r.denominator) for r in pipeline.ratios}
    out.update({name: tuple(columns) for name, columns in pipeline.sums.items()})
    return {f: out[f] for f in pipeline.features_ if f in out}


@dataclass(frozen=True)
class WhatIf:
    probability: float
    margin: float
    base_risk: float  # the average evaluator's risk, where the drivers' points start
    drivers: pd.DataFrame  # churn_core.views.explanation.DRIVER_COLUMNS, strongest first


def shap_row(model: Any, x: pd.DataFrame) -> np.ndarray:
    """Exact SHAP values of the model's margin for the rows of `x`, base value last.

    XGBoost's own TreeSHAP (pred_contribs), which churn_core.scoring.explain.TreeExplainer reproduces: for the
    what-if's single row it is as fast, and it spares the dashboard numba's ~120 MB.
    """
    import xgboost as xgb  # here: pages without a what-if never import XGBoost (over a second)

    return np.asarray(model.booster.predict(xgb.DMatrix(x), pred_contribs=True), np.float64)


def what_if(model: Any, inputs: Mapping[str, Any]) -> WhatIf | None:
    """Score one evaluator from raw `inputs` (None = no data): the model's risk and its drivers."""
    if model is None:
        return None
    x = model.pipeline.transform(pd.DataFrame([{k: np.nan if v is None else v for k, v in inputs.items()}]))
    shap = shap_row(model, x)[0]
    margin = float(shap.sum())
    probability = float(model.calibrator(np.asarray([margin]))[0])
    score = {"shap_base": float(shap[-1]), **{f"shap_{n}": float(v) for n, v in zip(x.columns, shap[:-1], strict=True)}}
    drivers = shap_drivers(score, shown_values(model.pipeline, x.iloc[0]), model.calibrator)
    return WhatIf(probability, margin, float(model.calibrator(np.asarray([shap[-1]]))[0]), drivers)
