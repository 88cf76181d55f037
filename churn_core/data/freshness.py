"""Is telemetry still arriving? The last day of product usage against today.

Scores can be written every morning on data that stopped days ago (a broken export): then every page describes
the evaluators as of that day. The dashboard's banner and the daily job's alert both read `telemetry_freshness`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from churn_core.settings import Settings
from churn_core.warehouse import Warehouse


@dataclass(frozen=True)
class TelemetryFreshness:
    """The last telemetry day (None before any is loaded) against `today`, late after `stale_after_days`."""

    last_day: dt.date | None
    today: dt.date
    stale_after_days: int

    @property
    def days_behind(self) -> int | None:
        return None if self.last_day is None else (self.today - self.last_day).days

    @property
    def stale(self) -> bool:
        return self.days_behind is not None and self.days_behind > self.stale_after_days

    @property
    def message(self) -> str:
        """One sentence for a banner, an alert or a job note."""
        if self.last_day is None:
            return "No telemetry loaded yet."
        behind = f"{self.days_behind} day{'s' if self.days_behind != 1 else ''} before today ({self.today:%d %b %Y})"
        if not self.stale:
            return f"Telemetry up to {self.last_day:%d %b %Y}, {behind}."
        return (
            f"Telemetry has stopped arriving: the last day of product usage is {self.last_day:%d %b %Y}, {behind}. "
            "Scores, lists and charts describe the evaluators as of that day. Check the telemetry export "
            f"(this warning comes after settings stale_after_days = {self.stale_after_days} days)."
        )


def local_today(settings: Settings) -> dt.date:
    """Today's date where the product runs (settings.timezone)."""
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


def last_telemetry_day(warehouse: Warehouse) -> dt.date | None:
    """The last day daily_usage covers; None before telemetry is loaded."""
    if not warehouse.table_exists("daily_usage"):
        return None
    value = warehouse.run("last_telemetry_day").iloc[0]["last_usage_date"]
    return None if pd.isna(value) else pd.Timestamp(value).date()


def telemetry_freshness(warehouse: Warehouse, settings: Settings, today: dt.date | None = None) -> TelemetryFreshness:
    """How far the telemetry lags behind today (settings.timezone), late after settings.stale_after_days."""
    return TelemetryFreshness(last_telemetry_day(warehouse), today or local_today(settings), settings.stale_after_days)
