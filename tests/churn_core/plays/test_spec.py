"""Play specs: a TOML file becomes a checked Play; a bad one is one clear error and stores nothing."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from churn_core.plays.spec import PlaySpecError, load_spec, parse_play
from churn_core.plays.store import create_play, list_plays, set_status
from churn_core.warehouse import open_warehouse
from tests.churn_core.plays.conftest import SPEC

TOML = """
name = "chat the quiet ones"
owner = "ana@example.com"
channel = "chat"
content_id = "CH-01"
daily_capacity = 25
holdout_share = 0.2
start_date = 2026-11-01
end_date = 2026-12-31

[eligibility]
risk_tier = ["high"]
product = ["Boards", "Docs"]
day_of_trial = { min = 2, max = 6 }
"""


def test_a_toml_spec_reads_into_a_play_and_its_rule_selects_rows(tmp_path) -> None:
    path = tmp_path / "play.toml"
    path.write_text(TOML, encoding="utf-8")
    play = load_spec(path)
    assert (play.channel, play.daily_capacity, play.holdout_share) == ("chat", 25, 0.2)
    assert play.start_date == dt.date(2026, 11, 1) and not play.allow_overlap
    assert play.describe_rule() == "day_of_trial 2..6; product in Boards, Docs; risk_tier in high"
    rows = pd.DataFrame(
        {
            "risk_tier": ["high", "high", "medium", "high"],
            "product": ["Boards", "Desk", "Boards", "Docs"],
            "day_of_trial": [3, 3, 3, 7],
        }
    )
    assert play.eligible(rows).tolist() == [True, False, False, False]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eligibility": {"favourite_colour": ["red"]}}, "eligibility column 'favourite_colour' is not a score-set"),
        ({"daily_capacity": 0}, "daily_capacity must be a positive number"),
        ({"daily_capacity": -3}, "daily_capacity must be a positive number"),
        ({"holdout_share": 0}, "holdout_share must be between 0 and 1"),
        ({"holdout_share": 1.5}, "holdout_share must be between 0 and 1"),
        ({"channel": "fax"}, "channel 'fax' is not one of"),
        ({"end_date": dt.date(2026, 1, 1)}, "end_date 2026-01-01 is before start_date"),
        ({"eligibility": {"day_of_trial": ["3"]}}, "day_of_trial takes a range"),
        ({"eligibility": {"risk_tier": {"min": 1}}}, "risk_tier takes a list of values"),
        ({"colour": "red"}, "unknown field"),
        ({"owner": ""}, "missing owner"),
    ],
)
def test_a_bad_spec_names_the_field(change, message) -> None:
    with pytest.raises(PlaySpecError, match=message):
        parse_play({**SPEC, **change})


def test_bad_specs_store_nothing_and_names_do_not_overlap(home) -> None:
    warehouse = open_warehouse(home)
    create_play(warehouse, parse_play(SPEC), "ana@example.com")
    before = {t: warehouse.query(f"SELECT count(*) AS n FROM {t}").iloc[0, 0] for t in ("plays", "play_status")}
    with pytest.raises(PlaySpecError, match="exists already"):
        create_play(warehouse, parse_play({**SPEC, "name": SPEC["name"].upper()}), "bo@example.com")
    with pytest.raises(PlaySpecError, match="not a phone item of the content catalogue"):
        create_play(warehouse, parse_play({**SPEC, "name": "other", "content_id": "EM-01"}), "bo@example.com")
    after = {t: warehouse.query(f"SELECT count(*) AS n FROM {t}").iloc[0, 0] for t in ("plays", "play_status")}
    assert after == before
    [record] = list_plays(warehouse)
    assert record.play == parse_play(SPEC) and record.status == "active"


def test_pausing_keeps_the_history_and_a_play_past_its_end_reads_ended(home) -> None:
    warehouse = open_warehouse(home)
    play = parse_play(SPEC)
    create_play(warehouse, play, "ana@example.com")
    set_status(warehouse, play.name.upper(), "paused", "bo@example.com")
    [record] = list_plays(warehouse)
    assert record.status == "paused" and not record.assigns_on(play.start_date)
    assert record.status_on(play.end_date + dt.timedelta(days=1)) == "ended"
    assert warehouse.query("SELECT count(*) FROM play_status").iloc[0, 0] == 2
    with pytest.raises(PlaySpecError, match="no play called 'nope'"):
        set_status(warehouse, "nope", "paused", "bo@example.com")
