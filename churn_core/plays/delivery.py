"""Today's treatment list of each play, and its delivery to a CRM or marketing tool by webhook.

The list is the play's treatment arm of the newest day it assigned, in contact order. The webhook
(settings plays_webhook_url, a credential: masked and redacted) receives one JSON batch per play and day:
{play, date, channel, content_id, contacts: [...]} with an `Idempotency-Key` header that is the same for the
same batch (play, date and a hash of its contacts), so a receiver that saw a batch can ignore it when a
retry or a re-run sends it again. A connection error, a 5xx or a 429 is retried (tenacity, exponential
backoff, plays_webhook_attempts in all); any other answer is final. Whoever calls this audits it
(churn_core.access.actions.push_play_lists).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from churn_core.errors import ChurnError, TransientError
from churn_core.plays.store import list_plays
from churn_core.secrets import redacted
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

TIMEOUT_SECONDS = 15.0
KEY_HEADER = "Idempotency-Key"
CONTACT_COLUMNS = (
    "contact_order",
    "instance",
    "churn_probability",
    "risk_tier",
    "product",
    "edition",
    "region",
    "expected_annual_value",
    "day_of_trial",
    "top_reason",
)


class DeliveryError(ChurnError):
    """The receiver refused the batch (a 4xx other than 429): retrying would not help."""


class _Retryable(TransientError):
    """A connection error, a 5xx or a 429: worth sending again."""


@dataclass(frozen=True)
class Delivery:
    """One batch sent (or not): for the audit log and the job's detail."""

    play: str
    day: dt.date
    contacts: int
    key: str
    attempts: int
    error: str = ""


def last_days(warehouse: Warehouse) -> dict[str, dt.date]:
    """The newest day each play assigned evaluators on."""
    if not warehouse.table_exists("play_assignments"):
        return {}
    days = warehouse.run("play_last_day")
    return {str(p): pd.Timestamp(d).date() for p, d in zip(days["play"], days["assigned_date"], strict=True)}


def treatment_list(warehouse: Warehouse, play: str, day: dt.date) -> pd.DataFrame:
    """The play's treatment arm assigned on `day` in contact order: contact_order 1 = first (the list's rank
    counts the play's holdout too, so it is replaced)."""
    rows = warehouse.run("play_treatment_list", {"play": play, "day": day})
    return rows.drop(columns="rank").assign(contact_order=np.arange(1, len(rows) + 1))[
        ["contact_order", *(c for c in rows.columns if c != "rank")]
    ]


def batch_key(play: str, day: dt.date, rows: pd.DataFrame) -> str:
    """The batch's idempotency key: the same play, date and contacts always give the same key."""
    contacts = ",".join(str(int(i)) for i in sorted(rows["instance"]))
    return hashlib.sha256(f"{play}|{day.isoformat()}|{contacts}".encode()).hexdigest()[:40]


def batch_body(play: str, day: dt.date, rows: pd.DataFrame) -> bytes:
    """The JSON batch: the play, its date, channel and content item, and its contacts in order."""
    first = rows.iloc[0] if len(rows) else {}
    contacts = rows[list(CONTACT_COLUMNS)].astype(object).where(rows[list(CONTACT_COLUMNS)].notna(), None)
    data = {
        "play": play,
        "date": day.isoformat(),
        "channel": first.get("channel") if len(rows) else None,
        "content_id": first.get("content_id") if len(rows) else None,
        "contacts": contacts.to_dict("records"),
    }
    return json.dumps(data, default=_plain).encode("utf-8")


def push_lists(warehouse: Warehouse, settings: Settings) -> list[Delivery]:
    """Send the newest treatment list of every play that is active that day to plays_webhook_url (none when
    it is not set); a batch that fails is reported in its Delivery, never raised, so the others still go."""
    if not settings.plays_webhook_url:
        return []
    days = last_days(warehouse)
    out = []
    for record in list_plays(warehouse):
        day = days.get(record.play.name)
        if day is None or record.status_on(day) != "active":
            continue
        rows = treatment_list(warehouse, record.play.name, day)
        if rows.empty:
            continue
        out.append(send_batch(settings, record.play.name, day, rows))
    return out


def send_batch(settings: Settings, play: str, day: dt.date, rows: pd.DataFrame) -> Delivery:
    """POST one batch with retries (module doc); the outcome, with how many attempts it took."""
    key, body = batch_key(play, day, rows), batch_body(play, day, rows)
    retrying = Retrying(
        stop=stop_after_attempt(max(1, settings.plays_webhook_attempts)),
        wait=wait_exponential(multiplier=settings.plays_webhook_backoff_seconds, max=60),
        retry=retry_if_exception_type(_Retryable),
        reraise=True,
    )
    attempts = 0
    try:
        for attempt in retrying:
            with attempt:
                attempts += 1
                _post(settings.plays_webhook_url, body, key)
    except (_Retryable, DeliveryError, ValueError) as exc:
        return Delivery(play, day, len(rows), key, attempts, redacted(str(exc), settings))
    return Delivery(play, day, len(rows), key, attempts)


def _post(url: str, body: bytes, key: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("plays_webhook_url must be an http(s) URL")
    headers = {"Content-Type": "application/json", "User-Agent": "churn-plays", KEY_HEADER: key}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (http(s) only)
            response.read()
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 429 or exc.code >= 500:
            raise _Retryable(f"the plays webhook answered {exc.code}") from None
        raise DeliveryError(f"the plays webhook refused the batch ({exc.code}); check the receiver") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Retryable(f"the plays webhook could not be reached ({type(exc).__name__})") from None


def _plain(value: object) -> object:
    """numpy and pandas scalars as JSON values."""
    if hasattr(value, "item"):
        return value.item()  # type: ignore[no-any-return]
    return str(value)
