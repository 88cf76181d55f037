"""Filter widgets -> a frozen, hashable `Filters`, mirrored in the URL so a view can be shared and bookmarked.

URL parameters: tier, flag, rec (recommended channel), week, product, edition, region, channel (reached;
repeatable), team and day ("low-high"), q (instance id digits), sort and page; `list=<channel>` (or
`list=all`) is today's contact list for a channel: in today's plan, recommended that channel, in plan order.
Anything malformed or unknown in the URL is ignored, never an error: values must be among the options the
score set offers, numbers must parse and lie in range.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st

from churn_core.schema import channel_label
from churn_core.views import DEFAULT_SORT, FLAGS, NO_CHANNEL, NOT_REACHED, SORTS, FilterOptions, Filters

MULTI: dict[str, str] = {
    "tier": "tiers",
    "flag": "flags",
    "rec": "recommended",
    "week": "cohort_weeks",
    "product": "products",
    "edition": "editions",
    "region": "regions",
    "channel": "channels",
}
RANGES: dict[str, str] = {"team": "team_size", "day": "day_of_trial"}
PARAMS: tuple[str, ...] = (*MULTI, *RANGES, "q", "sort", "page", "list")
PLAN = ("worth_saving",)  # the flag of today's contact plan
ALL_CHANNELS = "all"  # `list=all`: today's whole plan
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
        "rec": options.recommended,
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
    listed = next(iter(_clean(params.get("list", []))), "")
    if listed == ALL_CHANNELS or listed in options.recommended[:-1]:  # today's list: the plan, for a channel
        fields["flags"], fields["recommended"] = PLAN, () if listed == ALL_CHANNELS else (listed,)
    sort = next((v for v in _clean(params.get("sort", [])) if v in SORTS), DEFAULT_SORT)
    page_text = next(iter(_clean(params.get("page", []))), "1")
    page = int(page_text) if re.fullmatch(r"\d{1,7}", page_text) and 1 <= int(page_text) <= MAX_PAGE else 1
    return Filters(**fields), sort, page


def todays_list(filters: Filters) -> str | None:
    """The channel whose contact list for today the filters are (ALL_CHANNELS for the whole plan), else None."""
    if filters.flags != PLAN or len(filters.recommended) > 1 or NO_CHANNEL in filters.recommended:
        return None
    return filters.recommended[0] if filters.recommended else ALL_CHANNELS


def to_params(filters: Filters, sort: str = DEFAULT_SORT, page: int = 1) -> dict[str, list[str]]:
    """URL parameters for a view (only what differs from the default); today's list as `list=<channel>`."""
    out: dict[str, list[str]] = {}
    listed = todays_list(filters)
    if listed:
        out["list"] = [listed]
    for key, name in MULTI.items():
        if listed and key in ("flag", "rec"):
            continue
        values = getattr(filters, name)
        if values:
            out[key] = [v.isoformat() if isinstance(v, dt.date) else str(v) for v in values]
    for key, name in RANGES.items():
        bounds = getattr(filters, name)
        if bounds:
            out[key] = [f"{bounds[0]}-{bounds[1]}"]
    if filters.search:
        out["q"] = [filters.search]
    if sort != DEFAULT_SORT:
        out["sort"] = [sort]
    if page > 1:
        out["page"] = [str(page)]
    return out


def _week_label(week: dt.date) -> str:
    return f"week of {week:%d %b %Y}"


def _channel_label(channel: str) -> str:
    return "not reached yet" if channel == NOT_REACHED else channel_label(channel)


def channel_name(channel: str) -> str:
    """A channel as marketers write it ("in-app"); NO_CHANNEL is "no channel"."""
    return "no channel" if channel == NO_CHANNEL else channel_label(channel)


def _widget_values(filters: Filters, sort: str, page: int, options: FilterOptions) -> dict[str, Any]:
    return {
        "f_tiers": list(filters.tiers),
        "f_flags": list(filters.flags),
        "f_rec": list(filters.recommended),
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
        view = state.get(_STATE, (Filters(), DEFAULT_SORT, 1))
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
        ("f_rec", options.recommended),
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
        state["f_sort"] = DEFAULT_SORT
    state["f_search"] = re.sub(r"\D", "", str(state.get("f_search") or ""))[:12]
    view = Filters(
        tiers=tuple(state["f_tiers"]),
        flags=tuple(state["f_flags"]),
        recommended=tuple(state["f_rec"]),
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


def todays_list_control(view: Filters, planned: dict[str, int]) -> None:
    """Today's contact list per channel, one click each: the plan for that channel in the order to contact
    (`planned`: how many the plan holds per channel under the other filters)."""
    st.session_state["f_list"] = todays_list(view)
    listed = {ALL_CHANNELS: sum(planned.values()), **{c: n for c, n in planned.items() if n}}
    st.segmented_control(
        "Today's contact list",
        tuple(listed),
        key="f_list",
        on_change=_pick_list,
        format_func=lambda c: f"{'Whole plan' if c == ALL_CHANNELS else channel_name(c).capitalize()} · {listed[c]:,}",
        help="The evaluators to contact today through each channel, most valuable contact first, within the "
        "channel's daily capacity (settings capacity_<channel>); held-out evaluators are never in it. Click again "
        "to see everyone.",
    )


def _pick_list() -> None:
    """Set the filters to today's list for the chosen channel (or back to everyone) before the page reruns."""
    state = st.session_state
    chosen = state.get("f_list")
    if chosen is None:
        state["f_flags"] = [f for f in state.get("f_flags") or [] if f not in PLAN]
        state["f_rec"] = []
        return
    state["f_flags"], state["f_sort"] = list(PLAN), DEFAULT_SORT
    state["f_rec"] = [] if chosen == ALL_CHANNELS else [chosen]


def at_risk_controls(options: FilterOptions, view: Filters) -> None:
    """The filter and sort widgets of the at-risk page (their state was set by `current_view`)."""
    top = st.columns([3, 4, 3, 2])
    top[0].pills("Risk tier", options.tiers, selection_mode="multi", key="f_tiers", format_func=str.capitalize)
    top[1].pills(
        "Segment",
        tuple(FLAGS),
        selection_mode="multi",
        key="f_flags",
        format_func=FLAGS.get,
        help="In today's plan: contacting them is among the most valuable contacts the channels can make "
        "today. Might swing: predicted to stay, but close to the model's cut-off or rising. "
        "Held out: the measurement holdout, never contacted.",
    )
    top[2].selectbox("Sort by", tuple(SORTS), key="f_sort", format_func=SORTS.get)
    top[3].text_input("Instance", key="f_search", placeholder="id starts with…", max_chars=12)
    active = [
        name
        for name, values in (
            ("recommended channel", () if todays_list(view) else view.recommended),
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
    label = "More filters: recommended channel, cohort week, product, edition, team size, region, channel reached, day"
    if active:
        label = f"More filters · **{len(active)} active**: {', '.join(active)}"
    # drawn only while open (the page paints sooner); `_seed` keeps their values while it is closed
    more = st.expander(label, expanded=bool(active), key="f_more", on_change="rerun", icon=":material/filter_list:")
    if more.open:
        with more:
            a, b, c = st.columns(3)
            a.multiselect(
                "Recommended channel",
                options.recommended,
                key="f_rec",
                format_func=channel_name,
                help="The plan's channel for evaluators in today's plan, else the channel whose contact is worth "
                "most when contacting pays; no channel for the holdout and where no contact pays.",
            )
            b.multiselect("Cohort week", options.cohort_weeks, key="f_weeks", format_func=_week_label)
            c.multiselect("Product", options.products, key="f_products")
            a.multiselect("Edition", options.editions, key="f_editions")
            b.multiselect("Region", options.regions, key="f_regions")
            c.multiselect("Channel reached", options.channels, key="f_channels", format_func=_channel_label)
            a.slider("Team size (seats)", 1, max(2, options.team_size_max), key="f_team")
            b.slider("Day of trial", 1, max(2, options.day_of_trial_max), key="f_day")


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
