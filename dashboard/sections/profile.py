"""The profile page's building blocks: facts, score tiles, reasons in words, touches and the what-if."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from churn_core import views
from churn_core.schema import NO_DATA, channel_label
from churn_core.settings import Settings
from dashboard import charts, data, ui

WHAT_IF_COLUMNS = 4  # what-if inputs side by side


def facts(profile: views.Profile) -> None:
    """One line of what we know from sign-up: product, edition, seats, region, start, holdout."""
    f = profile.facts or {}
    held = (profile.current or f).get("control_group") == 1  # the score carries the product's holdout
    control = " · :red[**held out: do not contact**] (measurement holdout)" if held else ""
    outcome = {1: " · outcome: **bought**", 0: " · outcome: **left**"}.get(f.get("retained"), "")
    st.markdown(
        f"**{f.get('product', '?')}** {f.get('edition', '')} · {_seats(f.get('team_size'))} · "
        f"{f.get('company_size_band', '?')} employees · {f.get('region', '?')} · found us via "
        f"{str(f.get('acquisition_source', '?')).replace('_', ' ')} · trial started "
        f"{ui.date_text(f.get('eval_start_date'))} · worth {ui.money(f.get('expected_annual_value'))} a year"
        f"{control}{outcome}"
    )


def _seats(n: Any) -> str:
    return "? seats" if n is None else f"{n} seat" if n == 1 else f"{n} seats"


def tier_edges(settings: Settings, threshold: float | None) -> tuple[float, float]:
    """Where the high and medium tiers start: the model's cut-off starts medium (flagged)."""
    cut = settings.risk_tier_medium if threshold is None else threshold
    return max(settings.risk_tier_high, cut), cut


def tiles(score: dict[str, Any], settings: Settings, threshold: float | None) -> None:
    """Risk and its change, tier and day, segment, and the next action: today's plan, the best channel, or
    do not contact (the holdout)."""
    cols = st.columns([1, 1, 1.4, 1.4])  # wide enough for "In today's plan" and "Do not contact"
    change = score.get("probability_change")
    previous = score.get("previous_as_of_date")
    cols[0].metric(
        "Churn risk",
        ui.percent(score.get("churn_probability")),
        ui.points(change),
        delta_color="inverse",
        border=True,
        delta_description=f"since {previous:%d %b}" if change is not None and previous else None,
    )
    high, cut = tier_edges(settings, threshold)
    cols[1].metric(
        f"Tier · day {score.get('day_of_trial')}",
        str(score.get("risk_tier", "?")).capitalize(),
        border=True,
        help=f"Low: below the model's cut-off ({cut:.0%}), not flagged. Medium: flagged. High: flagged and at "
        f"least {high:.0%}. Day {score.get('day_of_trial')} of the trial; the model saw usage days "
        f"0..{score.get('as_of_day')}.",
    )
    cols[2].metric("Segment", str(score.get("segment") or "–").capitalize(), border=True)
    _next_action(cols[3], score)


def _next_action(tile: Any, score: dict[str, Any]) -> None:
    channel = channel_label(str(score.get("recommended_channel") or ""))
    value = ui.money(score.get("expected_value"))
    if score.get("control_group") == 1:
        tile.metric(
            "Next action",
            "Do not contact",
            border=True,
            help="In the measurement holdout: never contacted, so that what contact achieves can be measured.",
        )
    elif score.get("worth_saving") == 1:
        tile.metric(
            "Today's plan",
            f"{channel.capitalize()} · #{score.get('plan_rank')}",
            ui.points(score.get("channel_uplift")),
            border=True,
            delta_description="uplift",
            help=f"Number {score.get('plan_rank')} on today's {channel} list; expected retained revenue of the "
            f"contact {value}.",
        )
    else:
        tile.metric(
            "Best channel",
            channel.capitalize() or "No contact pays",
            ui.points(score.get("channel_uplift")) if channel else None,
            border=True,
            delta_description="uplift" if channel else None,
            help=f"Not in today's plan. Expected retained revenue of contacting through the best channel: {value}.",
        )


def reasons(score: dict[str, Any], explained: views.Explanation) -> None:
    """The scoring job's sentences (top_drivers), those that raise the risk apart from those working in the
    evaluator's favour, each with the points it adds or takes away on the waterfall."""
    waterfall = explained.drivers.set_index("feature")
    lines = [(d.reason, d.feature) for d in views.top_drivers(score) if d.reason and d.feature in waterfall.index]
    if not lines:  # a score without sentences: the strongest drivers, in the waterfall's words
        lines = list(zip(waterfall["reason"].head(4), waterfall.index[:4], strict=True))
    for heading, sign in (("What raises the risk", 1), ("Working in their favour", -1)):
        shown = [
            f"- {text} (**{ui.points(waterfall.at[f, 'points'])}**)"
            for text, f in lines
            if waterfall.at[f, "shap"] * sign > 0
        ]
        if shown:
            st.markdown(f"**{heading}**\n" + "\n".join(shown))
    if not lines:
        st.markdown("No drivers recorded.")


def touches_table(touches: pd.DataFrame) -> None:
    """Every touch sent, in a closed panel: when, which channel and content, and what became of it."""
    if touches.empty:
        return
    flags = {
        c: st.column_config.CheckboxColumn(c.capitalize()) for c in ("delivered", "opened", "responded") if c in touches
    }
    config = {
        "sent_at": st.column_config.DatetimeColumn("Sent", format="D MMM YYYY, HH:mm"),
        "channel": st.column_config.TextColumn("Channel"),
        "title": st.column_config.TextColumn("Content"),
        "topic": st.column_config.TextColumn("Topic"),
        **flags,
    }
    with st.expander(f"All {len(touches)} touches"):
        st.dataframe(
            touches.astype({c: bool for c in flags}).assign(channel=touches["channel"].map(channel_label)),
            column_config=config,
            hide_index=True,
            column_order=[c for c in ("sent_at", "channel", "title", "topic", *flags) if c in touches],
        )


def what_if(settings: Settings, score: dict[str, Any], explained: views.Explanation) -> None:
    """Change any input of the model and see its new risk and drivers; with nothing changed, the scored risk."""
    st.subheader("What if…")
    if not st.toggle(
        "Change this evaluator's numbers and see the model's new risk",
        key="whatif_on",
        help="Loads the model that scored this set (a second or two the first time).",
    ):
        return
    version = str(score.get("model_version"))
    model = data.champion(settings, version)
    if model is None:
        st.info("The what-if needs the model from the registry: train one with `churn train`.")
        return
    if str(getattr(model, "version", "")) != version:
        st.caption(
            f"This score came from model {version}, which is no longer in the registry; the what-if "
            f"uses the champion {model.version}, so its starting risk may differ."
        )
    inputs = {**explained.inputs, **_changed(score, explained.inputs, views.what_if_inputs(model.pipeline))}
    derived = views.derived_features(model.pipeline)
    if derived:
        st.caption(
            "Follow from these: "
            + "; ".join(
                f"{views.feature_label(f)} ({' ÷ '.join(views.feature_label(c) for c in parts)})"
                for f, parts in derived.items()
            )
            + f". An empty box is {NO_DATA}: the model treats it as unknown, which is not the same as 0."
        )
    plain = tuple(sorted((k, views.plain_value(v)) for k, v in inputs.items()))
    result = data.what_if(settings, version, plain)
    if result is not None:
        _what_if_result(result, float(score.get("churn_probability") or 0.0))


def _changed(score: dict[str, Any], start: dict[str, Any], inputs: list[views.WhatIfInput]) -> dict[str, Any]:
    """Every input as the user set it: usage counts, then facts about the evaluator, starting at the score's."""
    changed: dict[str, Any] = {}
    for heading, group in (
        ("Usage so far", [i for i in inputs if i.usage]),
        ("About the evaluator", [i for i in inputs if not i.usage]),
    ):
        if not group:
            continue
        st.markdown(f"**{heading}**")
        for row in range(0, len(group), WHAT_IF_COLUMNS):
            cells = group[row : row + WHAT_IF_COLUMNS]
            for col, item in zip(st.columns(WHAT_IF_COLUMNS), cells, strict=False):
                key = f"whatif_{score.get('instance')}_{item.column}"
                changed[item.column] = _input(col, item, views.plain_value(start.get(item.column)), key)
    return changed


def _input(col: Any, item: views.WhatIfInput, value: Any, key: str) -> Any:
    """One what-if widget: a category in words, or a number that may be left empty (no data)."""
    label = item.label.capitalize()
    if item.options:
        options = [*item.options, None]
        index = options.index(value) if value in options else len(item.options)
        return col.selectbox(label, options, index=index, format_func=item.option_text, key=key)
    whole = item.step == 1
    number = None if value is None else int(round(float(value))) if whole else float(value)
    return col.number_input(
        label,
        min_value=int(item.minimum) if whole else float(item.minimum),
        max_value=None if item.maximum is None else int(item.maximum),
        step=1 if whole else float(item.step),
        format=None if whole else "%.0f",
        value=number,
        placeholder=NO_DATA,
        key=key,
    )


def _what_if_result(result: views.WhatIf, before: float) -> None:
    left, right = st.columns([1, 3])
    moved = abs(result.probability - before) >= 0.0005  # unchanged: no "+0.0 pts" arrow
    left.metric(
        "Risk with these numbers",
        ui.percent(result.probability),
        ui.points(result.probability - before) if moved else None,
        delta_color="inverse",
        border=True,
        delta_description="vs scored" if moved else "as scored",
    )
    with right:
        ui.chart(
            charts.shap_waterfall_chart(
                result.drivers, result.base_risk, result.probability, title="Drivers with these numbers"
            ),
            key="whatif_waterfall",
        )
