"""Actions that need a permission and leave an audit entry: exporting target lists, promoting a model.

The dashboard hides what a role may not do; these functions refuse it anyway, so the rule holds whatever
calls them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from churn_core import views
from churn_core.access import audit, exports
from churn_core.access.roles import User, require
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

if TYPE_CHECKING:
    from churn_core.model.registry import Comparison


def export_evaluators(
    warehouse: Warehouse,
    user: User,
    as_of: dt.date,
    filters: views.Filters,
    sort: str,
    columns: Iterable[str],
    kind: str,
) -> bytes:
    """The filtered at-risk list as CSV or Excel (formula-safe), for roles allowed to export; audited."""
    require(user, "export")
    frame = views.at_risk_export(warehouse, as_of, filters, sort, columns, exports.EXPORT_ROW_CAP)
    payload = exports.to_excel_bytes(frame) if kind == "xlsx" else exports.to_csv_bytes(frame)
    audit.record(
        warehouse,
        user,
        "export",
        {"format": kind, "as_of": as_of, "sort": sort, "filters": filters.described(), "columns": list(frame.columns)},
        len(frame),
    )
    return payload


def promote_model(
    settings: Settings, warehouse: Warehouse, user: User, version: str, force: bool = False
) -> Comparison:
    """Make `version` the champion (admins only), under the registry's not-worse rule unless forced; audited."""
    from churn_core.model.registry import Registry  # loads XGBoost: only when promoting

    require(user, "promote")
    comparison = Registry(settings).promote(version, force=force)
    audit.record(warehouse, user, "promote", {"version": version, "force": force, "previous": comparison.champion}, 1)
    return comparison
