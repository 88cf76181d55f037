"""Actions that need a permission and leave an audit entry: exporting a list, promoting a model, creating and
pausing a contact play.

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
from churn_core.plays import delivery, store
from churn_core.plays.spec import Play
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

if TYPE_CHECKING:
    from churn_core.model.registry import Comparison

# What exporting each audience needs: a contact list, the measurement holdout on its own (labelled "do not
# contact"), or a play's treatment list (for those who run plays)
EXPORT_PERMISSIONS: dict[str, str] = {"contact": "export", "holdout": "export_holdout", "play": "plays"}


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


def create_play(warehouse: Warehouse, user: User, play: Play) -> None:
    """Store a new play (roles with the plays permission: managers and admins); audited with its spec."""
    require(user, "plays")
    store.create_play(warehouse, play, user.email)
    detail = {"play": play.name, "channel": play.channel, "content_id": play.content_id, "rule": play.rule_json}
    audit.record(warehouse, user, "play_create", {**detail, "capacity": play.daily_capacity}, 1)


def set_play_status(warehouse: Warehouse, user: User, name: str, status: str) -> None:
    """Pause (or resume) a play (roles with the plays permission); audited with the status it had."""
    require(user, "plays")
    before = store.set_status(warehouse, name, status, user.email)
    audit.record(
        warehouse,
        user,
        f"play_{'pause' if status == store.PAUSED else 'resume'}",
        {"play": before.play.name, "was": before.status},
        1,
    )


def push_play_lists(warehouse: Warehouse, settings: Settings, user: User) -> list[delivery.Delivery]:
    """Send each active play's newest treatment list to the plays webhook; every batch, sent or not, is audited
    with its idempotency key and attempts (the contacts are in play_assignments, not in the log)."""
    require(user, "plays")
    sent = delivery.push_lists(warehouse, settings)
    for batch in sent:
        detail = {"play": batch.play, "date": batch.day, "key": batch.key, "attempts": batch.attempts}
        audit.record(
            warehouse, user, "play_push", {**detail, "error": batch.error} if batch.error else detail, batch.contacts
        )
    return sent


def operator(source: str) -> User:
    """Who acts outside the dashboard (a `churn` command, a scheduled job): the machine's account, which may
    do everything the files allow, so the admin role."""
    return User(email=f"{getpass.getuser()}@{socket.gethostname()}", name=source, role="admin")
