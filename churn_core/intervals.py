"""Confidence intervals: the one z of every 95% interval shown, Wilson for a proportion, Newcombe for a difference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95% intervals


def wilson_interval(successes: Any, n: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (NaN where n = 0); honest at small n and near 0 or 1."""
    k = np.asarray(successes, float)
    n = np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def difference_interval(k1: Any, n1: Any, k2: Any, n2: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's interval for p1 - p2 from the two Wilson intervals (method 10)."""
    k1, n1, k2, n2 = (np.asarray(x, float) for x in (k1, n1, k2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def add_rate(df: pd.DataFrame, name: str, k: str, n: str) -> None:
    """Add column `name` = k / n (NaN where n = 0) and its Wilson interval as `name`_low and `name`_high."""
    df[name] = df[k] / df[n].where(df[n] > 0)
    df[f"{name}_low"], df[f"{name}_high"] = wilson_interval(df[k], df[n])
