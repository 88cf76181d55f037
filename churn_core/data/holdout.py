"""The measurement holdout: evaluators the product never contacts, so that what contact achieves can be measured.

Assignment is blocked randomisation within strata (product x cohort week) in arrival order (eval_start_date,
then instance). The k-th evaluator to arrive in a stratum sits at position k: block k // B, slot k % B. Each
block of B slots holds out h of them, h / B being settings.holdout_share (B at most MAX_BLOCK): the h slots
whose hash, keyed by settings.holdout_salt, is smallest. Whether an evaluator is held out is therefore a pure
function of (salt, share, stratum, position) -- `held_out` -- and every block of B arrivals holds out exactly
h, so the holdout stays balanced across products and weeks. The demo generator calls the same function, so
its no-contact control group is this holdout.

`assign_holdout` (the first step of `churn etl`) keeps the assignments append-only in holdout_assignments: an
evaluator keeps its assignment for good and a new arrival takes the next position of its stratum, so neither
a re-run nor new arrivals nor a later change of the settings move an earlier assignment (a day-3 treatment
evaluator never becomes holdout on day 4). An evaluator whose outcome had already resolved when it was
first seen (history loaded when the product is set up) keeps its source's control_group instead: it can no
longer be contacted, and what its source recorded is what happened to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pandas as pd

from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

TABLE = "holdout_assignments"
MAX_BLOCK = 200  # slots per block at most: shares down to 0.5% are kept exactly
RANDOM, RECORDED = "random", "recorded"  # holdout_assignments.origin
_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0x9E3779B97F4A7C15)  # splitmix64's constants


def block_shape(share: float) -> tuple[int, int]:
    """(slots per block B, held out per block h): the fraction h / B closest to `share` with B <= MAX_BLOCK."""
    fraction = Fraction(share).limit_denominator(MAX_BLOCK)
    held = min(max(fraction.numerator, 1), fraction.denominator - 1)
    return max(fraction.denominator, 2), held


def strata(products: Sequence[str], start_days: np.ndarray) -> np.ndarray:
    """Stratum labels "<product>|<Monday of the trial's first week>" from products and eval_start_dates as
    days since 1970-01-01 (a Thursday)."""
    days = np.asarray(start_days, np.int64)
    monday = (days - (days + 3) % 7).astype("datetime64[D]").astype(str)
    return np.char.add(np.char.add(np.asarray(products, dtype=str), "|"), monday).astype(object)


def held_out(stratum: Sequence[str], position: np.ndarray, share: float, salt: str) -> np.ndarray:
    """True where the evaluator at `position` (0-based arrival order) of `stratum` is held out (module doc)."""
    size, held = block_shape(share)
    codes, labels = pd.factorize(pd.Series(stratum, dtype=object))
    keys = np.asarray([_stratum_key(salt, str(label)) for label in labels], np.uint64)
    position = np.asarray(position, np.int64)
    block, slot = position // size, position % size
    blocks, row_block = np.unique(np.stack([codes.astype(np.int64), block], axis=1), axis=0, return_inverse=True)
    # every slot of every block present is hashed, so a block's held-out slots do not depend on who has arrived
    hashes = _mix(_mix(keys[blocks[:, 0]] ^ _mix(blocks[:, 1].astype(np.uint64)))[:, None] + _slots(size))
    rank = np.argsort(np.argsort(hashes, axis=1, kind="stable"), axis=1, kind="stable")
    return rank[row_block.reshape(-1), slot] < held


def arrival_positions(
    stratum: Sequence[str], start_days: np.ndarray, instance: np.ndarray, first: Sequence[int]
) -> np.ndarray:
    """Each row's position in its stratum: `first` (the stratum's next free position, per row) plus its rank
    among the rows of its stratum in arrival order (start day, then instance)."""
    frame = pd.DataFrame({"stratum": stratum, "start": start_days, "instance": instance, "first": first})
    order = frame.sort_values(["start", "instance"], kind="stable")
    rank = order.groupby("stratum", sort=False).cumcount()
    return (frame["first"] + rank.reindex(frame.index)).to_numpy(np.int64)


def assign_holdout(warehouse: Warehouse, settings: Settings, as_of: dt.date) -> int:
    """Assign every evaluator whose trial started by `as_of` and has no assignment yet, and append them to
    holdout_assignments; returns how many were assigned."""
    if warehouse.table_exists(TABLE):
        arrivals = warehouse.run("holdout_arrivals", {"as_of": as_of})
        taken = warehouse.run("holdout_strata").set_index("stratum")["next_position"]
    else:
        arrivals = warehouse.run("holdout_evaluators", {"as_of": as_of})
        taken = pd.Series(dtype="int64")
    if arrivals.empty:
        return 0
    start = _days(arrivals["eval_start_date"])
    label = strata(arrivals["product"].astype(str).tolist(), start)
    first = pd.Series(label).map(taken).fillna(0).astype(np.int64).to_numpy()
    position = arrival_positions(label, start, arrivals["instance"].to_numpy(np.int64), first)
    size, _ = block_shape(settings.holdout_share)
    drawn = held_out(label, position, settings.holdout_share, settings.holdout_salt)
    resolved = arrivals["resolved"].to_numpy(np.int64) == 1
    recorded = arrivals["control_group"].fillna(0).to_numpy(np.int64) == 1
    warehouse.append(
        TABLE,
        pd.DataFrame(
            {
                "instance": arrivals["instance"].to_numpy(np.int32),
                "stratum": pd.Series(label, dtype="str"),
                "position": position.astype(np.int32),
                "block": (position // size).astype(np.int32),
                "held_out": np.where(resolved, recorded, drawn).astype(np.int32),
                "origin": pd.Series(np.where(resolved, RECORDED, RANDOM), dtype="str"),
                "assigned_date": [as_of] * len(arrivals),
            }
        ),
    )
    return len(arrivals)


def _stratum_key(salt: str, label: str) -> int:
    """A 64-bit key per stratum: BLAKE2b of the label keyed by the salt."""
    key = hashlib.blake2b(salt.encode(), digest_size=32).digest()
    return int.from_bytes(hashlib.blake2b(label.encode(), key=key, digest_size=8).digest(), "little")


def _slots(size: int) -> np.ndarray:
    """One distinct odd multiple of the golden ratio per slot of a block, as a (1, size) row to add to keys."""
    return (np.arange(1, size + 1, dtype=np.uint64) * np.uint64(_MIX[2]))[None, :]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over uint64 arrays (wrapping arithmetic): a bijection that scrambles every bit."""
    x = np.asarray(x, np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_MIX[0])
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_MIX[1])
    return x ^ (x >> np.uint64(31))


def _days(values: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01."""
    return pd.to_datetime(values.astype("str")).to_numpy("datetime64[D]").astype(np.int64)
