"""Score-set integrity: every set is fingerprinted and signed when it is written, and checked before it is used.

A score set is the evaluator_scores rows of one as_of_date. `churn score` records in the set's score_sets row
(its manifest) a fingerprint of those rows and an HMAC-SHA256 of it with the product's key (churn_core.signing).
The fingerprint is whole numbers any engine computes exactly in any order: counts of rows, evaluators, tiers
and flags; sums of instance ids, of churn_probability, churn_margin and every SHAP value in micro-units
(floored), of risk_rank, and of tier, flag, channel and reason codes -- each also weighted by
(instance % 9973 + 1), which ties the values to their evaluators. A reader recomputes it with one aggregate
query inside the warehouse (queries/score_set_integrity.sql: no rows leave it), checks that the SHAP values
still add up to the margin, verifies the signature, and compares. Rows edited, added or removed after the
write, or a manifest edited without the key, raise ScoreSetIntegrityError naming the set and the fix.

Sets written before signing existed have no fingerprint and are refused as unsigned, like tampered ones:
accepting them would let anyone with write access skip the check by blanking a manifest's fingerprint. The
next `churn score` (the daily job) writes a signed set; an older date is replaced with `churn score --as-of`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn_core import signing
from churn_core.errors import ChurnError
from churn_core.schema import CHANNELS, RISK_TIERS
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse, load_sql
from churn_core.warehouse.base import _ident

FINGERPRINT_VERSION = 1
WEIGHT_MODULUS = 9973  # a prime: an evaluator's weight is instance % 9973 + 1
MICROS = 1_000_000  # doubles are compared in floored micro-units (the SHAP values are stored to 6 decimals)
SHAP_GAP_PER_COLUMN = 1e-6  # rounding each SHAP value to 6 decimals moves the sum by at most 5e-7 per column
CHANNEL_CODES = "," + ",".join(CHANNELS) + ","
TIER_CODES: dict[str, int] = {"high": 3, "medium": 2, "low": 1}  # as the CASE in score_set_integrity.sql
# The manifest's own summary columns that the signed fingerprint must match (the dashboard shows them).
MANIFEST_COUNTS: dict[str, str] = {
    "rows": "row_count",
    **{f"{t}_risk": f"{t}_risk" for t in RISK_TIERS},
    "predicted_churn": "predicted_churn",
    "worth_saving": "worth_saving",
    "might_swing": "might_swing",
}
# Which column a fingerprint value watches, to say what changed.
WATCHES: dict[str, str] = {
    "model_rows": "model_version",
    "instance_sum": "instance",
    "probability": "churn_probability",
    "probability_w": "churn_probability",
    "margin": "churn_margin",
    "margin_w": "churn_margin",
    "risk_rank_w": "risk_rank",
    "high_risk": "risk_tier",
    "medium_risk": "risk_tier",
    "low_risk": "risk_tier",
    "tier_w": "risk_tier",
    "predicted_churn": "predicted_churn",
    "worth_saving": "worth_saving",
    "might_swing": "might_swing",
    "flags_w": "predicted_churn/worth_saving/might_swing",
    "channel_w": "recommended_channel",
    "reason_w": "top_reason",
    "shap": "the SHAP values",
    "shap_w": "the SHAP values",
    "shap_columns": "the SHAP values",
}
_SHAP = re.compile(r"^shap_[a-z][a-z0-9_]*$")


class ScoreSetIntegrityError(ChurnError):
    """A score set failed its integrity check: it is not to be shown or used."""

    def __init__(self, as_of: dt.date, problems: Sequence[str], *, unsigned: bool = False) -> None:
        self.as_of, self.problems, self.unsigned = as_of, tuple(problems), unsigned
        if unsigned:
            what = (
                f"score set {as_of} is unsigned (written before score sets were signed, or its fingerprint "
                "was removed), so it cannot be trusted and is not shown"
            )
        else:
            what = (
                f"score set {as_of} failed its integrity check: {'; '.join(problems)}. Its rows or its "
                "manifest no longer match what `churn score` signed, so it is not shown"
            )
        super().__init__(
            f"{what}. Re-run `churn score --as-of {as_of}` to replace it (after "
            f"`churn etl --as-of {as_of}` if the modelling tables were built for another date)."
        )


@dataclass(frozen=True)
class Verified:
    """A score set that passed: its rows and the largest SHAP additivity gap found."""

    as_of: dt.date
    rows: int
    shap_gap: float


# --- writing ----------------------------------------------------------------------------------------------


def shap_columns(columns: Iterable[str]) -> list[str]:
    """The SHAP columns among `columns` (shap_base first), each checked as an identifier for the SQL."""
    found = [_ident(c) for c in columns if _SHAP.match(str(c))]
    return sorted(found, key=lambda c: c != "shap_base")


def fingerprint(scores: pd.DataFrame, model_version: str, shap: Sequence[str]) -> dict[str, int]:
    """The fingerprint of a set's rows in pandas; score_set_integrity.sql computes the same numbers."""
    instance = scores["instance"].to_numpy(np.int64)
    w = np.fmod(instance, WEIGHT_MODULUS) + 1  # fmod: SQL's % keeps the sign (instances are >= 0 anyway)
    probability, margin = _micros(scores["churn_probability"]), _micros(scores["churn_margin"])
    rank = _whole(scores["risk_rank"])
    tier = _codes(scores["risk_tier"], {t: TIER_CODES[t] for t in RISK_TIERS})
    predicted, worth, swing = (_whole(scores[c]) for c in ("predicted_churn", "worth_saving", "might_swing"))
    channel = _codes(scores["recommended_channel"], {c: CHANNEL_CODES.find(f",{c},") + 1 for c in CHANNELS})
    reason = _whole(pd.Series(pc.utf8_length(_arrow(scores["top_reason"])).to_numpy(zero_copy_only=False)))
    shap_total, by_column = np.zeros(len(scores), np.int64), np.zeros(len(scores), np.int64)
    for j, column in enumerate(shap):
        micros = _micros(scores[column])
        shap_total += micros
        by_column += (j + 1) * micros
    values = {
        "row_count": len(scores),
        "instances": scores["instance"].nunique(),
        "model_rows": (scores["model_version"] == model_version).sum(),
        "instance_sum": instance.sum(),
        "probability": probability.sum(),
        "probability_w": (probability * w).sum(),
        "margin": margin.sum(),
        "margin_w": (margin * w).sum(),
        "risk_rank_w": (rank * w).sum(),
        **{f"{t}_risk": (tier == TIER_CODES[t]).sum() for t in RISK_TIERS},
        "tier_w": (tier * w).sum(),
        "predicted_churn": predicted.sum(),
        "worth_saving": worth.sum(),
        "might_swing": swing.sum(),
        "flags_w": ((predicted + 2 * worth + 4 * swing) * w).sum(),
        "channel_w": (channel * w).sum(),
        "reason_w": (reason * w).sum(),
        "shap": shap_total.sum(),
        "shap_w": (shap_total * w).sum(),
        "shap_columns": by_column.sum(),
    }
    return {k: int(v) for k, v in values.items()}


def seal(settings: Settings, scores: pd.DataFrame, as_of: dt.date, model_version: str) -> dict[str, str]:
    """The manifest's `fingerprint` (JSON) and `signature` (HMAC-SHA256 hex) for a set about to be written."""
    shap = shap_columns(scores.columns)
    return seal_values(settings, as_of, model_version, shap, fingerprint(scores, model_version, shap))


def seal_values(
    settings: Settings, as_of: dt.date, model_version: str, shap: Sequence[str], values: dict[str, int]
) -> dict[str, str]:
    """The manifest's fingerprint and signature for fingerprint `values` (computed in pandas or by `recompute`)."""
    text = json.dumps(
        {"version": FINGERPRINT_VERSION, "shap_columns": list(shap), "values": values},
        sort_keys=True,
        separators=(",", ":"),
    )
    return {"fingerprint": text, "signature": signing.sign(settings, _message(as_of, model_version, text))}


# --- reading ----------------------------------------------------------------------------------------------


def check_score_set(warehouse: Warehouse, settings: Settings, as_of: dt.date) -> Verified:
    """Verify the score set of `as_of` against its signed fingerprint; raise ScoreSetIntegrityError if it fails."""
    if not warehouse.table_exists("score_sets"):  # written by a release that kept no manifests
        raise ScoreSetIntegrityError(as_of, [], unsigned=True)
    manifest = _manifest(warehouse, as_of)
    if manifest is None:
        raise ScoreSetIntegrityError(as_of, ["it has no manifest row in score_sets"])
    text, signature = manifest.get("fingerprint"), manifest.get("signature")
    if not _present(text) or not _present(signature):
        raise ScoreSetIntegrityError(as_of, [], unsigned=True)
    version = str(manifest.get("model_version") or "")
    if not signing.verify(settings, _message(as_of, version, str(text)), str(signature)):
        raise ScoreSetIntegrityError(
            as_of,
            [
                "the signature of its manifest (score_sets) does not match: the manifest was edited, or the set was "
                "signed with another key (jobs and dashboard must share CHURN_SIGNING_KEY or $CHURN_HOME/signing.key)"
            ],
        )
    signed = json.loads(str(text))  # signed by us: trusted from here on
    if signed.get("version") != FINGERPRINT_VERSION:
        raise ScoreSetIntegrityError(
            as_of, [f"its fingerprint is of version {signed.get('version')}, which this release of churn cannot check"]
        )
    expected: dict[str, int] = {k: int(v) for k, v in signed["values"].items()}
    actual, gap = recompute(warehouse, as_of, version, shap_columns(signed["shap_columns"]))
    problems = _differences(expected, actual, manifest)
    tolerance = max(1e-4, SHAP_GAP_PER_COLUMN * len(signed["shap_columns"]))
    if gap is not None and not gap <= tolerance:  # `not <=` also catches NaN
        problems.append(
            f"its SHAP values no longer add up to churn_margin (largest gap {gap:.3g}, allowed {tolerance:.0e})"
        )
    if problems:
        raise ScoreSetIntegrityError(as_of, problems)
    return Verified(as_of, expected["row_count"], float(gap or 0.0))


def recompute(
    warehouse: Warehouse, as_of: dt.date, model_version: str, shap: Sequence[str]
) -> tuple[dict[str, int], float | None]:
    """The fingerprint of the stored rows and the largest SHAP additivity gap, from one aggregate query."""
    sql = load_sql("queries/score_set_integrity").replace("/*shap_terms*/", _shap_terms(shap))
    row = warehouse.query(sql, {"as_of": as_of, "model_version": model_version, "channels": CHANNEL_CODES})
    found = {k: _number(v) for k, v in row.iloc[0].items()}
    gap = found.pop("shap_gap")
    return {k: int(v or 0) for k, v in found.items()}, gap


def _shap_terms(shap: Sequence[str]) -> str:
    """Per-row SQL terms over the SHAP columns: their sum and column-weighted sum in micro-units, and the gap."""
    if not shap:
        return "0 AS shap, 0 AS shap_columns, CAST(NULL AS DOUBLE) AS shap_gap"
    columns = [_ident(c) for c in shap]
    micros = [f"CAST(floor(coalesce({c}, 0) * {MICROS}) AS BIGINT)" for c in columns]
    total = "\n            + ".join(micros)
    weighted = "\n            + ".join(f"{j + 1} * {m}" for j, m in enumerate(micros))
    added = " + ".join(f"coalesce({c}, 0)" for c in columns)
    return f"{total} AS shap,\n        {weighted} AS shap_columns,\n        abs({added} - churn_margin) AS shap_gap"


def _differences(expected: dict[str, int], actual: dict[str, int], manifest: dict[str, Any]) -> list[str]:
    problems = []
    if actual["row_count"] != expected["row_count"]:
        change = actual["row_count"] - expected["row_count"]
        problems.append(
            f"it has {actual['row_count']:,} rows where {expected['row_count']:,} were written "
            f"({abs(change):,} {'added' if change > 0 else 'removed'})"
        )
    if actual["instances"] < actual["row_count"]:
        problems.append(f"{actual['row_count'] - actual['instances']:,} evaluator row(s) appear more than once")
    if actual["row_count"] == expected["row_count"]:
        changed = dict.fromkeys(WATCHES[k] for k in WATCHES if actual.get(k) != expected.get(k))
        if changed.keys() & {"predicted_churn", "worth_saving", "might_swing"}:
            changed.pop(WATCHES["flags_w"], None)  # the flags' own counts already say which changed
        if changed:
            problems.append(f"values were changed in {', '.join(changed)}")
    stated = {column: _number(manifest.get(column)) for column in MANIFEST_COUNTS}
    wrong = [
        f"{column} = {value}"
        for column, value in stated.items()
        if value is not None and int(value) != expected[MANIFEST_COUNTS[column]]
    ]
    if wrong:
        problems.append(f"its manifest (score_sets) was edited: {', '.join(wrong)} differ from the signed counts")
    return problems


def _manifest(warehouse: Warehouse, as_of: dt.date) -> dict[str, Any] | None:
    rows = warehouse.run("score_set_manifest", {"as_of": as_of})
    if len(rows) != 1:
        return None
    return dict(rows.iloc[0].items())


def _message(as_of: dt.date, model_version: str, fingerprint_text: str) -> str:
    """What is signed: the set's date and model, and its fingerprint (so neither can be moved to another set)."""
    return f"churn score set\n{as_of.isoformat()}\n{model_version}\n{fingerprint_text}"


def _micros(values: pd.Series) -> np.ndarray:
    """Doubles as floored micro-units (NULL as 0), as `CAST(floor(coalesce(x, 0) * 1000000) AS BIGINT)`."""
    x = np.nan_to_num(values.to_numpy(np.float64, na_value=np.nan), nan=0.0)
    return np.floor(x * MICROS).astype(np.int64)


def _whole(values: pd.Series) -> np.ndarray:
    """Whole numbers, NULL as 0 (as `coalesce(x, 0)`)."""
    x = pd.to_numeric(values).to_numpy(np.float64, na_value=np.nan)
    return np.nan_to_num(x, nan=0.0).astype(np.int64)


def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values, pa.string(), from_pandas=True)


def _codes(values: pd.Series, codes: dict[str, int]) -> np.ndarray:
    """Text as its code (0 for NULL or any other text), as the CASE of the SQL; vectorised in Arrow."""
    index = pc.index_in(_arrow(values), pa.array(list(codes), pa.string())).fill_null(-1).to_numpy()
    table = np.asarray([*codes.values(), 0], np.int64)  # index -1 picks the trailing 0
    return table[index]


def _number(value: Any) -> float | int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _present(value: Any) -> bool:
    return _number(value) is not None and str(value).strip() != ""
