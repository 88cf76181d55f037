"""The estimators of a play's results, pure functions of arrays (y: outcome 0/1, treated: bool per evaluator).

* `difference_in_means`: the intention-to-treat effect, treatment mean - holdout mean, with Neyman's
  variance and a 95% normal interval; valid when it is looked at once.
* `adjusted_difference`: the same effect with less variance (CUPED, Deng et al. 2013): the outcome minus
  theta x (covariate - its mean), theta pooled over both arms. The covariate must be fixed before assignment
  (the churn probability stored with each assignment), so it cannot carry any of the effect: the estimate
  stays unbiased and the width shrinks by about 1 - sqrt(1 - corr(y, covariate)^2).
* `confidence_sequence`: an interval that stays valid however often it is looked at (every day): the
  asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas (2021, "Time-uniform
  central limit theory and asymptotic confidence sequences"), over the augmented inverse-propensity
  pseudo-outcomes (A/pi - (1-A)/(1-pi)) x (y - m(x)), whose mean is the effect for any m fixed by the
  covariate. Its radius at n observations is sd x sqrt(2(n rho^2 + 1) / (n^2 rho^2) x log(sqrt(n rho^2 + 1) /
  alpha)), with rho tuned to be tightest at PLANNED_N observations.
* `verdict`: working when the always-valid interval is above zero, not working when it is below the effect
  that pays for the contacts (zero when that is unknown), otherwise not yet clear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
ALPHA = 0.05
PLANNED_N = 2_000  # the confidence sequence is tightest here (typical resolved evaluators of a play)
WORKING, NOT_WORKING, UNCLEAR = "working", "not working", "not yet clear"


@dataclass(frozen=True)
class Interval:
    """An effect (difference in retention as a fraction: 0.02 = 2 points) and its interval."""

    estimate: float
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low

    def scaled(self, factor: float) -> Interval:
        return Interval(self.estimate * factor, self.low * factor, self.high * factor)


NO_INTERVAL = Interval(math.nan, math.nan, math.nan)


def difference_in_means(y: np.ndarray, treated: np.ndarray) -> Interval:
    """Treatment mean - holdout mean with a 95% interval from Neyman's variance (NaN with < 2 per arm)."""
    y, treated = np.asarray(y, np.float64), np.asarray(treated, bool)
    a, b = y[treated], y[~treated]
    if len(a) < 2 or len(b) < 2:
        return NO_INTERVAL
    estimate = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return Interval(estimate, estimate - Z95 * se, estimate + Z95 * se)


def cuped_theta(y: np.ndarray, covariate: np.ndarray) -> float:
    """The slope of the outcome on the covariate over both arms (0 when the covariate does not vary)."""
    x = np.asarray(covariate, np.float64)
    variance = x.var()
    return (
        0.0 if variance <= 0 else float(np.mean((x - x.mean()) * (np.asarray(y, np.float64) - np.mean(y))) / variance)
    )


def adjusted_difference(y: np.ndarray, treated: np.ndarray, covariate: np.ndarray) -> Interval:
    """The difference in means of y - theta x (covariate - mean): CUPED (module doc)."""
    if len(y) < 4:
        return NO_INTERVAL
    x = np.asarray(covariate, np.float64)
    adjusted = np.asarray(y, np.float64) - cuped_theta(y, x) * (x - x.mean())
    return difference_in_means(adjusted, treated)


def cs_radius(n: int, sd: float, alpha: float = ALPHA, planned: int = PLANNED_N) -> float:
    """Half-width of the asymptotic confidence sequence at n observations of standard deviation sd."""
    if n < 2:
        return math.inf
    log_alpha = -2.0 * math.log(alpha)
    rho2 = (log_alpha + math.log(log_alpha + 1.0)) / planned
    return sd * math.sqrt(2.0 * (n * rho2 + 1.0) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1.0) / alpha))


def confidence_sequence(
    y: np.ndarray,
    treated: np.ndarray,
    share_treated: float,
    covariate: np.ndarray | None = None,
    alpha: float = ALPHA,
    planned: int = PLANNED_N,
) -> Interval:
    """The effect with an interval valid at every look (module doc); `share_treated` is the design's chance
    of treatment (1 - the play's holdout share)."""
    y, treated = np.asarray(y, np.float64), np.asarray(treated, bool)
    if treated.sum() < 2 or (~treated).sum() < 2:
        return NO_INTERVAL
    fitted = np.full(len(y), y.mean())
    if covariate is not None:
        x = np.asarray(covariate, np.float64)
        fitted = fitted + cuped_theta(y, x) * (x - x.mean())
    weight = np.where(treated, 1.0 / share_treated, -1.0 / (1.0 - share_treated))
    pseudo = weight * (y - fitted)
    estimate = float(pseudo.mean())
    radius = cs_radius(len(pseudo), float(pseudo.std(ddof=1)), alpha, planned)
    return Interval(estimate, estimate - radius, estimate + radius)


def verdict(always_valid: Interval, pays_from: float = 0.0) -> str:
    """working / not working / not yet clear from the always-valid interval; `pays_from` is the effect at
    which the contacts pay for themselves (cost per contact / value per save)."""
    if math.isnan(always_valid.low):
        return UNCLEAR
    if always_valid.high < max(pays_from, 0.0):
        return NOT_WORKING
    if always_valid.low > 0:
        return WORKING
    return UNCLEAR
