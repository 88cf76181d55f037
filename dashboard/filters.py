"""Filter widgets -> a frozen, hashable `Filters`, mirrored in the URL so a view can be shared and bookmarked.

URL parameters: tier, flag, week, product, edition, region, channel (repeatable), team and day ("low-high"),
q (instance id digits), sort and page. Anything malformed or unknown in the URL is ignored, never an error:
values must be among the options the score set offers, numbers must parse and lie in range.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st

from churn_core.schema import channel_label
from churn_core.views import FLAGS, NOT_REACHED, SORTS, FilterOptions, Filters

MULTI: dict[str, str] = {
    "tier": "tiers",
    "flag": "flags",
    "week": "cohort_weeks",
    "product": "products",
    "edition": "editions",
    "region": "regions",
    "channel": "channels",
}
RANGES: dict[str, str] = {"team": "team_size", "day": "day_of_trial"}
PARAMS: tuple[str, ...] = (*MULTI, *RANGES, "q", "sort", "page")
MAX_VALUES = 64  # per parameter
MAX_CHARS = 200  # per value
MAX_PAGE = 1_000_000
_STATE = "at_risk_view"  # the last view, kept across page switches (widget state is not)
_PROFILE = "profile_last"  # the evaluator the profile showed last, likewise
_RANGE = re.compile(r"^\s*(\d{1,7})\s*-\s*(\d{1,7})\s*$")


def query_params() -> dict[str, list[str]]:
    """The current URL's parameters as name -> all its values."""
    return {k: st.query_params.get_all(k) for k in st.query_params.keys()}


def _clean(values: Any) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Sequence):
        return []
    return [v for v in list(values)[:MAX_VALUES] if isinstance(v, str) and len(v) <= MAX_CHARS]


def _allowed(values: Iterable[str], options: Iterable[Any]) -> tuple[Any, ...]:
    lookup = {str(o): o for o in options}
    return tuple(dict.fromkeys(lookup[v] for v in values if v in lookup))


def _range(values: list[str], upper: int) -> tuple[int, int] | None:
    for value in values[:1]:
        m = _RANGE.match(value)
        if m:
            low, high = int(m.group(1)), int(m.group(2))
            if 1 <= low <= high <= upper and (low, high) != (1, upper):
                return low, high
    return None


def parse_params(params: Mapping[str, Any], options: FilterOptions) -> tuple[Filters, str, int]:
    """Filters, sort and page (1-based) from URL parameters; whatever does not fit is ignored."""
    allowed = {
        "tier": options.tiers,
        "flag": tuple(FLAGS),
        "week": options.cohort_weeks,
        "product": options.products,
        "edition": options.editions,
        "region": options.regions,
        "channel": options.channels,
    }
    fields: dict[str, Any] = {}
    for key, name in MULTI.items():
        fields[name] = _allowed(_clean(params.get(key, [])), allowed[key])
    fields["team_size"] = _range(_clean(params.get("team", [])), options.team_size_max)
    fields["day_of_trial"] = _range(_clean(params.get("day", [])), options.day_of_trial_max)
    search = next(iter(_clean(params.get("q", []))), "")
    fields["search"] = search if re.fullmatch(r"\d{1,12}", search) else ""
    sort = next((v for v in _clean(params.get("sort", [])) if v in SORTS), "risk")
    page_text = next(iter(_clean(params.get("page", []))), "1")
    page = int(page_text) if re.fullmatch(r"\d{1,7}", page_text) and 1 <= int(page_text) <= MAX_PAGE else 1
    return Filters(**fields), sort, page


def to_params(filters: Filters, sort: str = "risk", page: int = 1) -> dict[str, list[str]]:
    """URL parameters for a view (only what differs from the default)."""
    out: dict[str, list[str]] = {}
    for key, name in MULTI.items():
        values = getattr(filters, name)
        if values:
            out[key] = [v.isoformat() if isinstance(v, dt.date) else str(v) for v in values]
    for key, name in RANGES.items():
        bounds = getattr(filters, name)
        if bounds:
            out[key] = [f"{bounds[0]}-{bounds[1]}"]
    if filters.search:
        out["q"] = [filters.search]
    if sort != "risk":
        out["sort"] = [sort]
    if page > 1:
        out["page"] = [str(page)]
    return out


def _week_label(week: dt.date) -> str:
    return f"week of {week:%d %b %Y}"


def _channel_label(channel: str) -> str:
    return "not reached yet" if channel == NOT_REACHED else channel_label(channel)


def _widget_values(filters: Filters, sort: str, page: int, options: FilterOptions) -> dict[str, Any]:
    return {
        "f_tiers": list(filters.tiers),
        "f_flags": list(filters.flags),
        "f_weeks": list(filters.cohort_weeks),
        "f_products": list(filters.products),
        "f_editions": list(filters.editions),
        "f_regions": list(filters.regions),
        "f_channels": list(filters.channels),
        "f_team": filters.team_size or (1, options.team_size_max),
        "f_day": filters.day_of_trial or (1, options.day_of_trial_max),
        "f_search": filters.search,
        "f_sort": sort,
        "f_page": page,
    }


def _seed(options: FilterOptions) -> None:
    """Put the view into the widgets' state where it is missing: on the page's first run (from the URL, else
    the view last seen in this session), and for the "more filters" while their panel is closed, since
    Streamlit forgets the state of widgets it did not draw."""
    state = st.session_state
    if any(k in st.query_params for k in PARAMS):
        view = parse_params(query_params(), options)
    else:
        view = state.get(_STATE, (Filters(), "risk", 1))
    for key, value in _widget_values(*view, options).items():
        if key not in state:
            state[key] = value


def _valid(values: Any, options: Iterable[Any]) -> list[Any]:
    allowed = set(options)
    return [v for v in (values or []) if v in allowed]


def current_view(options: FilterOptions) -> tuple[Filters, str]:
    """The view the filter widgets hold, read from their state before they are drawn.

    Streamlit updates a widget's state before the rerun its change triggers, so the page can query and
    draw the table first (it paints sooner) and place the widgets above it afterwards.
    """
    _seed(options)
    state = st.session_state
    # A newer score set can drop a value the widget still holds; keep only what is offered.
    for key, offered in (
        ("f_tiers", options.tiers),
        ("f_flags", tuple(FLAGS)),
        ("f_weeks", options.cohort_weeks),
        ("f_products", options.products),
        ("f_editions", options.editions),
        ("f_regions", options.regions),
        ("f_channels", options.channels),
    ):
        state[key] = _valid(state.get(key), offered)
    ranges = {}
    for key, upper in (
        ("f_team", max(2, options.team_size_max)),
        ("f_day", max(2, options.day_of_trial_max)),
    ):
        low, high = state.get(key) or (1, upper)
        state[key] = (min(max(1, int(low)), upper), min(max(1, int(high)), upper))
        ranges[key] = state[key] if state[key] != (1, upper) else None
    if state.get("f_sort") not in SORTS:
        state["f_sort"] = "risk"
    state["f_search"] = re.sub(r"\D", "", str(state.get("f_search") or ""))[:12]
    view = Filters(
        tiers=tuple(state["f_tiers"]),
        flags=tuple(state["f_flags"]),
        cohort_weeks=tuple(state["f_weeks"]),
        products=tuple(state["f_products"]),
        editions=tuple(state["f_editions"]),
        regions=tuple(state["f_regions"]),
        channels=tuple(state["f_channels"]),
        team_size=ranges["f_team"],
        day_of_trial=ranges["f_day"],
        search=state["f_search"],
    )
    return view, state["f_sort"]


def at_risk_controls(options: FilterOptions, view: Filters) -> None:
    """The filter and sort widgets of the at-risk page (their state was set by `current_view`)."""
    top = st.columns([3, 3, 3, 2])
    top[0].pills("Risk tier", options.tiers, selection_mode="multi", key="f_tiers", format_func=str.capitalize)
    top[1].pills(
        "Segment",
        tuple(FLAGS),
        selection_mode="multi",
        key="f_flags",
        format_func=FLAGS.get,
        help="Worth saving: predicted to leave and acting pays. Might swing: predicted to stay "
        "but close to the threshold or rising.",
    )
    top[2].selectbox("Sort by", tuple(SORTS), key="f_sort", format_func=SORTS.get)
    top[3].text_input("Instance", key="f_search", placeholder="id starts with…", max_chars=12)
    active = [
        name
        for name, values in (
            ("cohort week", view.cohort_weeks),
            ("product", view.products),
            ("edition", view.editions),
            ("region", view.regions),
            ("channel", view.channels),
            ("team size", view.team_size),
            ("day of trial", view.day_of_trial),
        )
        if values
    ]
    label = "More filters: cohort week, product, edition, team size, region, channel, day of trial"
    if active:
        label = f"More filters · **{len(active)} active**: {', '.join(active)}"
    # drawn only while open (the page paints sooner); `_seed` keeps their values while it is closed
    more = st.expander(label, expanded=bool(active), key="f_more", on_change="rerun", icon=":material/filter_list:")
    if more.open:
        with more:
            a, b, c = st.columns(3)
            a.multiselect("Cohort week", options.cohort_weeks, key="f_weeks", format_func=_week_label)
            b.multiselect("Product", options.products, key="f_products")
            c.multiselect("Edition", options.editions, key="f_editions")
            a.multiselect("Region", options.regions, key="f_regions")
            b.multiselect("Channel reached", options.channels, key="f_channels", format_func=_channel_label)
            c.slider("Team size (seats)", 1, max(2, options.team_size_max), key="f_team")
            a.slider("Day of trial", 1, max(2, options.day_of_trial_max), key="f_day")


def page_number(filters: Filters, sort: str, pages: int) -> int:
    """The 1-based page to show: back to 1 whenever the filters or sort change, else the widget's value."""
    key = (filters, sort)
    if st.session_state.get("f_view_key") not in (None, key):
        st.session_state["f_page"] = 1
    st.session_state["f_view_key"] = key
    page = int(st.session_state.get("f_page") or 1)
    return min(max(1, page), max(1, pages))


def remember(filters: Filters, sort: str, page: int) -> None:
    """Keep the view for the next visit of the page and write it to the URL (replacing only our keys)."""
    st.session_state[_STATE] = (filters, sort, page)
    wanted = to_params(filters, sort, page)
    for key in PARAMS:
        if key in wanted:
            if st.query_params.get_all(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def parse_instance(values: Any) -> int | None:
    """An instance id from a URL parameter (digits only, at most 12), else None."""
    text = next(iter(_clean(values)), "")
    return int(text) if re.fullmatch(r"\d{1,12}", text.strip()) else None


def instance_picker() -> int | None:
    """The evaluator to show: the URL's `instance=` when it changes, else the number typed in; back on the page
    without one (from the sidebar), the evaluator shown last, put back in the URL."""
    state = st.session_state
    from_url = parse_instance(st.query_params.get_all("instance"))
    if from_url is None and state.get(_PROFILE) is not None:
        from_url = state[_PROFILE]
        st.query_params["instance"] = str(from_url)
    if from_url is not None and (state.get("_profile_from_url") != from_url or "profile_instance" not in state):
        state["profile_instance"] = from_url  # (Streamlit forgets a widget's state once it is not drawn)
    state["_profile_from_url"] = from_url
    chosen = st.number_input(
        "Instance",
        min_value=0,
        max_value=10**12 - 1,
        step=1,
        value=None,
        key="profile_instance",
        placeholder="type an instance id, or pick one on the at-risk page",
    )
    if chosen is not None:
        chosen = int(chosen)
        if from_url != chosen:
            st.query_params["instance"] = str(chosen)
            state["_profile_from_url"] = chosen
    state[_PROFILE] = chosen
    return chosen
