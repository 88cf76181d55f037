"""The at-risk list as a file: who is in it (a contact list, or the holdout on its own), human headers and
formats for every column, and the description the file carries (score date, model, filters, sort, columns).

A contact list never holds a held-out evaluator, whatever the filters: the holdout is the baseline every
uplift estimate is measured against. The holdout can be exported on its own, labelled "do not contact" in
the file, by roles allowed to (churn_core.access.actions checks and audits it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from churn_core.access.exports import ColumnFormat, Export
from churn_core.schema import CHANNELS, EVALUATOR_SCORES
from churn_core.views._common import SHAP_COLUMN, UPLIFT_COLUMN, feature_label
from churn_core.views.scores import SORTS, Filters, ScoreSet, at_risk_export
from churn_core.warehouse import Warehouse

HOLDOUT_COLUMN = "control_group"
AUDIENCES: dict[str, str] = {  # no commas: a description line stays one unquoted CSV field
    "contact": "contact list (the measurement holdout is left out)",
    "holdout": "the measurement holdout only: DO NOT CONTACT (kept from every contact to measure what contact "
    "achieves)",
}
FORMATS: dict[str, ColumnFormat] = {
    "instance": ColumnFormat("Instance", "id"),
    "as_of_date": ColumnFormat("Score date", "date"),
    "day_of_trial": ColumnFormat("Day of trial", "integer"),
    "as_of_day": ColumnFormat("Days of usage seen", "integer"),
    "eval_start_date": ColumnFormat("Trial started", "date"),
    "cohort_week": ColumnFormat("Cohort week", "date"),
    "model_version": ColumnFormat("Model version"),
    "churn_probability": ColumnFormat("Churn risk", "percent"),
    "churn_margin": ColumnFormat("Churn log-odds", "decimal"),
    "risk_tier": ColumnFormat("Risk tier"),
    "predicted_churn": ColumnFormat("Predicted to leave", "yesno"),
    "risk_rank": ColumnFormat("Risk rank", "integer"),
    "top_reason": ColumnFormat("Top reason"),
    "top_drivers": ColumnFormat("Top drivers (JSON)"),
    "shap_base": ColumnFormat("Model base log-odds", "decimal"),
    "product": ColumnFormat("Product"),
    "edition": ColumnFormat("Edition"),
    "team_size": ColumnFormat("Seats", "integer"),
    "company_size_band": ColumnFormat("Company size (employees)"),
    "region": ColumnFormat("Region"),
    "acquisition_source": ColumnFormat("Acquisition source"),
    "expected_annual_value": ColumnFormat("Expected annual value", "money"),
    HOLDOUT_COLUMN: ColumnFormat("Holdout (do not contact)", "yesno"),
    "channels_reached": ColumnFormat("Channels reached so far", "channel"),
    "activated": ColumnFormat("Activated", "yesno"),
    "value_at_risk": ColumnFormat("Value at risk", "money"),
    "recommended_channel": ColumnFormat("Recommended channel", "channel"),
    "channel_uplift": ColumnFormat("Uplift of the recommended channel", "points"),
    "expected_value": ColumnFormat("Value of contact", "money"),
    "worth_saving": ColumnFormat("In today's plan", "yesno"),
    "plan_rank": ColumnFormat("Contact order", "integer"),
    "might_swing": ColumnFormat("Might swing", "yesno"),
    "segment": ColumnFormat("Segment"),
    "previous_as_of_date": ColumnFormat("Previous score date", "date"),
    "previous_probability": ColumnFormat("Previous churn risk", "percent"),
    "probability_change": ColumnFormat("Change in risk", "points"),
}


def column_format(column: str) -> ColumnFormat:
    """The header and kind of a score-set column, its SHAP and uplift columns included."""
    if column in FORMATS:
        return FORMATS[column]
    if m := SHAP_COLUMN.match(column):
        return ColumnFormat(f"Driver: {feature_label(m.group(1))} (log-odds)", "decimal")
    if (m := UPLIFT_COLUMN.match(column)) and m.group(1) in CHANNELS:
        return ColumnFormat(f"Uplift: {m.group(1).replace('_', '-')}", "points")
    return ColumnFormat(column.replace("_", " ").capitalize())


def at_risk_file(
    warehouse: Warehouse,
    score_set: ScoreSet,
    filters: Filters,
    sort: str,
    columns: Iterable[str],
    limit: int,
    audience: str = "contact",
) -> Export:
    """The filtered, sorted list for `audience` (a key of AUDIENCES): instance, the holdout column, then
    `columns`, with formats and the file's description."""
    chosen = [HOLDOUT_COLUMN, *(c for c in columns if c != HOLDOUT_COLUMN)]
    rows = at_risk_export(warehouse, score_set.as_of, filters, sort, chosen, limit, held_out=audience == "holdout")
    cut = " (the most one export holds: narrow the filters for the rest)" if len(rows) >= limit else ""
    about = (
        ("List", f"At-risk evaluators: {AUDIENCES[audience]}"),
        ("Score date", score_set.as_of.isoformat()),
        ("Model version", score_set.model_version),
        ("Filters", "; ".join(f"{k}: {', '.join(v)}" for k, v in filters.described().items()) or "none"),
        ("Sort", SORTS.get(sort, sort)),
        ("Rows", f"{len(rows):,}{cut}"),
        ("Exported at", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        *((f"Column: {column_format(c).header}", _meaning(c)) for c in rows.columns),
    )
    return Export(rows, {c: column_format(c) for c in rows.columns}, about)


def _meaning(column: str) -> str:
    """What a column holds, in the data model's words ("empty" for the people who read the file, not NULL)."""
    if column in EVALUATOR_SCORES.names:
        return EVALUATOR_SCORES.column(column).doc.replace("NULL", "empty")
    if SHAP_COLUMN.match(column):
        return "how much this input raised (+) or lowered (-) the risk, in log-odds"
    return "estimated retention uplift of one campaign on this channel, in percentage points"
