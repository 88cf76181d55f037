"""The audit log: who exported or promoted what, when, with which filter and how many rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from churn_core.access.roles import User, require
from churn_core.warehouse import Warehouse

AUDIT_TABLE = "audit_log"


def record(warehouse: Warehouse, user: User, action: str, detail: dict[str, Any], rows: int) -> None:
    """Append one audit entry; `detail` (filters, file name, version) is stored as JSON."""
    warehouse.append(
        AUDIT_TABLE,
        pd.DataFrame(
            [
                {
                    "at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    "user_email": user.email,
                    "user_role": user.role or "",
                    "action": action,
                    "detail": json.dumps(detail, sort_keys=True, default=str),
                    "row_count": int(rows),
                }
            ]
        ),
    )


def audit_entries(warehouse: Warehouse, user: User, limit: int = 200) -> pd.DataFrame:
    """The newest audit entries, for admins only."""
    require(user, "audit")
    if not warehouse.table_exists(AUDIT_TABLE):
        return pd.DataFrame(columns=["at", "user_email", "user_role", "action", "detail", "row_count"])
    return warehouse.run("audit_log", {"limit": int(limit)})
