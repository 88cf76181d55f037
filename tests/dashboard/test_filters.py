"""dashboard.filters: URL parameters <-> Filters, ignoring anything malformed or hostile."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from churn_core.views import DEFAULT_SORT, NO_CHANNEL, NOT_REACHED, SORTS, FilterOptions, Filters
from dashboard.filters import PARAMS, parse_instance, parse_params, to_params, todays_list

OPTIONS = FilterOptions(
    products=("Boards", "Docs", "=HYPERLINK(1)"),
    editions=("premium", "standard"),
    regions=("AMER", "EMEA"),
    cohort_weeks=(dt.date(2026, 11, 23), dt.date(2026, 11, 16)),
    channels=("email", "phone", NOT_REACHED),
    team_size_max=50,
    day_of_trial_max=28,
)


def test_round_trip():
    view = Filters(
        tiers=("high",),
        flags=("might_swing",),
        recommended=("chat", NO_CHANNEL),
        cohort_weeks=(dt.date(2026, 11, 16),),
        products=("=HYPERLINK(1)",),
        editions=("premium",),
        regions=("EMEA", "AMER"),
        channels=(NOT_REACHED,),
        team_size=(2, 10),
        day_of_trial=(1, 7),
        search="1002",
    )
    params = to_params(view, "change", 3)
    assert params["week"] == ["2026-11-16"] and params["team"] == ["2-10"] and params["page"] == ["3"]
    assert parse_params(params, OPTIONS) == (view, "change", 3)


def test_defaults_leave_the_url_empty():
    assert to_params(Filters(), DEFAULT_SORT, 1) == {}
    assert parse_params({}, OPTIONS) == (Filters(), DEFAULT_SORT, 1)


def test_todays_list_for_a_channel_is_one_url_parameter():
    phone = Filters(flags=("worth_saving",), recommended=("phone",), regions=("EMEA",))
    assert to_params(phone) == {"list": ["phone"], "region": ["EMEA"]}
    assert parse_params({"list": ["phone"], "region": ["EMEA"]}, OPTIONS) == (phone, DEFAULT_SORT, 1)
    assert todays_list(phone) == "phone" and todays_list(Filters(flags=("worth_saving",))) == "all"
    assert parse_params({"list": "all"}, OPTIONS)[0] == Filters(flags=("worth_saving",))
    assert todays_list(Filters(recommended=("phone",))) is None  # not only today's plan: not a contact list
    assert todays_list(Filters(flags=("worth_saving",), recommended=("phone", "chat"))) is None
    assert parse_params({"list": ["fax"]}, OPTIONS)[0] == Filters()


def test_malformed_values_are_dropped_one_by_one():
    view, sort, page = parse_params(
        {
            "tier": ["high", "HIGH", "<b>"],
            "product": ["Docs", "Nope"],
            "week": ["2026-11-23", "2026-02-30", "x"],
            "team": ["10-2"],
            "day": ["1-28"],
            "q": ["12 OR 1=1"],
            "sort": ["value; --"],
            "page": ["0"],
            "unknown": ["x"],
        },
        OPTIONS,
    )
    assert view == Filters(tiers=("high",), products=("Docs",), cohort_weeks=(dt.date(2026, 11, 23),))
    assert (sort, page) == (DEFAULT_SORT, 1)


def test_parse_instance():
    assert parse_instance(["100070"]) == 100070
    assert parse_instance("42") == 42
    for bad in (["-1"], ["1e9"], ["12abc"], [""], ["9" * 13], [], None, 5, ["../x"]):
        assert parse_instance(bad) is None


params_strategy = st.dictionaries(
    st.one_of(st.sampled_from(PARAMS), st.text(max_size=5)),
    st.one_of(st.text(max_size=40), st.lists(st.text(max_size=40), max_size=5), st.integers(), st.none()),
    max_size=8,
)


@given(params_strategy)
def test_any_url_parses_to_offered_values(params):
    view, sort, page = parse_params(params, OPTIONS)
    assert set(view.products) <= set(OPTIONS.products) and set(view.tiers) <= set(OPTIONS.tiers)
    assert set(view.cohort_weeks) <= set(OPTIONS.cohort_weeks) and set(view.channels) <= set(OPTIONS.channels)
    assert view.team_size is None or 1 <= view.team_size[0] <= view.team_size[1] <= OPTIONS.team_size_max
    assert view.search == "" or view.search.isdigit()
    assert set(view.recommended) <= set(OPTIONS.recommended)
    assert sort in SORTS and page >= 1
    hash(view)
