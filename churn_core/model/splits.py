"""Training and held-out rows: the split by cohort date, the seed's random split, and what each part holds.

Every snapshot of an evaluator (every row of a group) stays on one side of a split, so a model is never
tested on an evaluator it has seen on another day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from churn_core.model.card import DataSummary
from churn_core.model.datasets import Dataset, DatasetError, check_labels, frame_fingerprint

HOLDOUT_COLUMNS = ("__churned", "__day", "__group", "__date")


@dataclass
class Split:
    kind: str  # "time" or "random"
    train: np.ndarray
    test: np.ndarray
    detail: dict[str, Any]  # how it was cut, for the card


def time_split(data: Dataset, test_size: float) -> Split | None:
    """Later cohorts (by evaluation start date) are the test set; None when the data has no usable dates."""
    if data.dates is None:
        return None
    unique, inverse = np.unique(data.groups, return_inverse=True)
    first = np.full(len(unique), np.datetime64("9999-12-31"), dtype="datetime64[D]")
    np.minimum.at(first, inverse, data.dates)
    cutoff = np.sort(first)[int(np.floor((1 - test_size) * (len(first) - 1)))]
    test_group = first > cutoff
    if test_group.all() or not test_group.any():
        return None
    test = test_group[inverse]
    return Split(
        "time",
        np.flatnonzero(~test),
        np.flatnonzero(test),
        {
            "train_dates": [str(first.min()), str(cutoff)],
            "test_dates": [str(first[test_group].min()), str(first.max())],
            "test_size": test_size,
        },
    )


def random_split(data: Dataset, test_size: float, seed: int) -> Split:
    """The seed's split: train_test_split(test_size=0.33, random_state=27), of whole groups."""
    unique, inverse = np.unique(data.groups, return_inverse=True)
    _, test_groups = train_test_split(np.arange(len(unique)), test_size=test_size, random_state=seed)
    in_test = np.zeros(len(unique), bool)
    in_test[test_groups] = True
    test = in_test[inverse]
    return Split("random", np.flatnonzero(~test), np.flatnonzero(test), {"test_size": test_size, "random_state": seed})


def check_split(data: Dataset, split: Split) -> None:
    """Both classes on both sides, else a DatasetError saying what to change."""
    check_labels(data.y[split.train], f"the training part of the {split.kind} split")
    test = data.y[split.test]
    if test.sum() == 0 or test.sum() == len(test):
        raise DatasetError(
            f"the held-out part of the {split.kind} split has only one class: add data or "
            "spread the outcomes over more cohorts"
        )


def cohort_week(dates: np.ndarray) -> np.ndarray:
    """Monday of each date's week, as ISO text."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    return (days - (days + 3) % 7).astype("datetime64[D]").astype(str)


def describe(part: Dataset, fingerprint: bool = False) -> DataSummary:
    """Rows, groups, outcomes, cohort dates and days of trial of one part (with its fingerprint if asked)."""
    dates = part.dates is not None
    return DataSummary(
        rows=int(len(part.y)),
        groups=int(len(np.unique(part.groups))),
        churned=int(part.y.sum()),
        churn_rate=float(part.y.mean()),
        date_min=str(part.dates.min()) if dates else None,
        date_max=str(part.dates.max()) if dates else None,
        as_of_days=sorted(int(d) for d in np.unique(part.day)) if part.day is not None else None,
        fingerprint=frame_fingerprint(part.frame, part.y) if fingerprint else None,
    )


def holdout_frame(test: Dataset) -> pd.DataFrame:
    """The raw held-out rows plus HOLDOUT_COLUMNS, stored with a version to compare models at promotion."""
    frame = test.frame.copy()
    frame["__churned"] = test.y.astype(np.int8)
    frame["__day"] = test.day if test.day is not None else 0
    frame["__group"] = test.groups.astype(str)
    frame["__date"] = test.dates.astype(str) if test.dates is not None else ""
    return frame
