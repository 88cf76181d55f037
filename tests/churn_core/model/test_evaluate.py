"""Evaluation metrics, thresholds and calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    fbeta_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from churn_core.model.calibration import Calibrator, expected_calibration_error, sigmoid
from churn_core.model.evaluate import (
    binary_metrics,
    bootstrap_ci,
    capacity_threshold,
    evaluation_report,
    f2_threshold,
    lift_table,
    threshold_table,
)


@pytest.fixture(scope="module")
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    margin = rng.normal(size=4000)
    y = (rng.random(4000) < sigmoid(1.5 * margin - 0.5)).astype(int)
    return y, np.round(sigmoid(1.5 * margin - 0.5), 3)  # rounded: ties, as real scores have


def test_metrics_match_scikit_learn(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    m = binary_metrics(y, p, 0.4)
    pred = p >= 0.4
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["f2"] == pytest.approx(fbeta_score(y, pred, beta=2))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == len(y)


def test_bootstrap_intervals_bracket_the_estimate(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    ci = bootstrap_ci(y, p, n_boot=100)
    auc, ap = roc_auc_score(y, p), average_precision_score(y, p)
    assert ci["roc_auc"][0] < auc < ci["roc_auc"][1] and ci["roc_auc"][1] - ci["roc_auc"][0] < 0.1
    assert ci["pr_auc"][0] < ap < ci["pr_auc"][1]


def test_f2_threshold_maximises_f2(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    best = f2_threshold(y, p)
    f2 = fbeta_score(y, p >= best, beta=2)
    cuts = np.unique(p)
    flagged = (p[None, :] >= cuts[:, None]).sum(axis=1)
    tp = ((p[None, :] >= cuts[:, None]) & (y[None, :] == 1)).sum(axis=1)
    every = 5 * tp / (4 * y.sum() + flagged)  # F2 = 5 TP / (4 (TP + FN) + TP + FP), at every possible cut-off
    assert f2 == pytest.approx(every.max())
    assert best < 0.5  # recall weighs more: the cut-off sits below an even chance


def test_capacity_threshold_fills_but_never_overfills() -> None:
    p = np.array([0.9, 0.8, 0.8, 0.7, 0.5, 0.2])
    assert capacity_threshold(p, 1) == 0.9 and (p >= capacity_threshold(p, 1)).sum() == 1
    assert (p >= capacity_threshold(p, 4)).sum() == 4
    assert (p >= capacity_threshold(p, 2)).sum() == 1  # the 0.8 tie would overfill: step above it
    assert (p >= capacity_threshold(p, 10)).sum() == 6
    assert (p >= capacity_threshold(p, 0)).sum() == 0
    rng = np.random.default_rng(1)
    q = rng.random(1000)
    assert (q >= capacity_threshold(q, 137)).sum() == 137


def test_threshold_table_matches_the_metrics(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    table = threshold_table(y, p)
    assert len(table) == 99 and table[0]["threshold"] == 0.01 and table[-1]["threshold"] == 0.99
    row = next(r for r in table if r["threshold"] == 0.3)
    m = binary_metrics(y, p, 0.3)
    assert row["precision"] == pytest.approx(m["precision"]) and row["recall"] == pytest.approx(m["recall"])
    assert row["f2"] == pytest.approx(m["f2"]) and row["flagged_share"] == pytest.approx(m["flagged_share"])
    recalls = [r["recall"] for r in table]
    assert recalls == sorted(recalls, reverse=True)


def test_lift_and_gains(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    lift = lift_table(y, p)
    assert len(lift) == 10 and lift[-1]["cumulative_gain"] == pytest.approx(1.0)
    assert lift[0]["lift"] > 1.5 > lift[-1]["lift"]


def test_report_per_day_and_week_and_json(scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scores
    day = np.tile(np.arange(1, 8), len(y) // 7 + 1)[: len(y)]
    week = np.where(np.arange(len(y)) < 2000, "2026-01-05", "2026-01-12")
    report = evaluation_report(y, p, 0.3, day=day, week=week, n_boot=20)
    assert sorted(report["metrics_by_day"]) == [str(d) for d in range(1, 8)]
    assert all("roc_auc" in m and "ci" in m for m in report["metrics_by_day"].values())
    assert [r["cohort"] for r in report["metrics_by_cohort"]] == ["2026-01-05", "2026-01-12"]
    assert 90 <= len(report["curves"]["roc"]["fpr"]) <= 101 and report["curves"]["roc"]["tpr"][-1] == 1.0
    assert len(report["curves"]["pr"]["recall"]) <= 101
    assert report["confusion_matrix"][1][1] == report["metrics"]["tp"]
    json.dumps(report, allow_nan=False)


def test_calibration_reduces_ece_and_keeps_the_ranking() -> None:
    rng = np.random.default_rng(2)
    margin = rng.normal(size=20000)
    y = (rng.random(20000) < sigmoid(0.5 * margin - 1.0)).astype(int)  # the raw margin is overconfident
    fit, test = slice(0, 10000), slice(10000, None)
    raw_ece = expected_calibration_error(y[test], sigmoid(margin[test]))
    for method in ("platt", "isotonic", "auto"):
        cal = Calibrator(method).fit(margin[fit], y[fit])
        p = cal(margin[test])
        assert expected_calibration_error(y[test], p) < min(0.02, raw_ece / 5), method
        assert roc_auc_score(y[test], p) == pytest.approx(roc_auc_score(y[test], margin[test]))
        assert np.all(np.diff(cal(np.linspace(-8, 8, 500))) > 0)  # strictly increasing: no new ties
        again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
        assert np.allclose(again(margin[test]), p)
