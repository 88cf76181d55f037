"""Actions that need a permission and leave an audit entry: exporting a list, promoting a model.

The dashboard hides what a role may not do; these functions refuse it anyway, so the rule holds whatever
calls them.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from churn_core.access import audit, exports
from churn_core.access.roles import User, require
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

if TYPE_CHECKING:
    from churn_core.model.registry import Comparison

# What exporting each audience needs: a contact list, or the measurement holdout on its own (labelled "do not contact")
EXPORT_PERMISSIONS: dict[str, str] = {"contact": "export", "holdout": "export_holdout"}


def export_rows(
    warehouse: Warehouse,
    user: User,
    rows: Callable[[], exports.Export],
    kind: str,
    detail: Mapping[str, Any],
    options: exports.ExportOptions | None = None,
    audience: str = "contact",
) -> bytes:
    """The list `rows()` reads as CSV or Excel (formula-safe, laid out per `options`), for roles allowed to
    export its `audience` (EXPORT_PERMISSIONS); read only after the check, and audited with `detail` (what was
    exported: date, sort, filters), the audience, the format and the columns."""
    require(user, EXPORT_PERMISSIONS[audience])
    export = rows()
    options = options or exports.ExportOptions()
    payload = exports.to_excel_bytes(export, options) if kind == "xlsx" else exports.to_csv_bytes(export, options)
    columns = list(export.rows.columns)
    entry = {"format": kind, **detail, "audience": audience, "columns": columns}
    audit.record(warehouse, user, "export", entry, len(export.rows))
    return payload


def promote_model(
    settings: Settings,
    warehouse: Warehouse,
    user: User,
    version: str,
    force: bool = False,
    dataset: str = "evaluators",
) -> Comparison:
    """Make `version` the champion (admins only), under the registry's not-worse rule unless forced; audited."""
    from churn_core.model.registry import Registry  # loads XGBoost: only when promoting

    require(user, "promote")
    comparison = Registry(settings, dataset).promote(version, force=force)
    record_promotion(warehouse, user, comparison, force)
    return comparison


def record_promotion(warehouse: Warehouse, user: User, comparison: Comparison, force: bool) -> None:
    """The audit entry of a promotion, wherever it came from (dashboard, CLI, `churn train`, the weekly job)."""
    detail = {"version": comparison.candidate, "force": force, "previous": comparison.champion}
    audit.record(warehouse, user, "promote", detail, 1)


def operator(source: str) -> User:
    """Who acts outside the dashboard (a `churn` command, a scheduled job): the machine's account, which may
    do everything the files allow, so the admin role."""
    return User(email=f"{getpass.getuser()}@{socket.gethostname()}", name=source, role="admin")
