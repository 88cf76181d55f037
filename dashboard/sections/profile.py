"""The profile page's building blocks: facts, score tiles, reasons in words, touches and the what-if."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from churn_core import views
from churn_core.settings import Settings
from dashboard import charts, data, ui

WHAT_IF_FEATURES = 6  # the strongest drivers offered in the what-if


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
    channel = str(score.get("recommended_channel") or "").replace("_", "-")
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


def reasons(score: dict[str, Any], drivers: pd.DataFrame) -> None:
    """The scoring job's sentences (top_drivers) when present, else the strongest SHAP drivers in words."""
    st.markdown("**The reasons, in words**")
    lines = [driver.reason for driver in views.top_drivers(score) if driver.reason]
    if not lines:
        lines = drivers.head(3)["reason"].tolist()
    st.markdown("\n".join(f"- {line}" for line in lines) or "No drivers recorded.")


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
            touches.astype({c: bool for c in flags}),
            column_config=config,
            hide_index=True,
            column_order=[c for c in ("sent_at", "channel", "title", "topic", *flags) if c in touches],
        )


def what_if(settings: Settings, score: dict[str, Any], features: dict[str, Any]) -> None:
    """Change a few feature values and see the champion's new risk and drivers."""
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
    offered = [f for f in views.shap_drivers(score, features)["feature"] if f in features][:WHAT_IF_FEATURES]
    if not offered:
        st.info("No feature values recorded for this evaluator's score.")
        return
    st.caption("Change the evaluator's week-1 numbers to see how the model's risk and reasons would move.")
    inputs = {k: views.plain_value(v) for k, v in {**features, **_changed(score, features, offered)}.items()}
    context = {k: views.plain_value(score.get(k)) for k in views.WHAT_IF_CONTEXT if k in score}
    result = data.what_if(settings, version, tuple(sorted(inputs.items())), tuple(sorted(context.items())))
    if result is not None:
        _what_if_result(result, float(score.get("churn_probability") or 0.0))


def _changed(score: dict[str, Any], features: dict[str, Any], offered: list[str]) -> dict[str, float]:
    """The offered features' values as the user set them (one number input each, starting at the score's)."""
    changed = {}
    for col, feature in zip(st.columns(len(offered)), offered, strict=True):
        current = features.get(feature)
        changed[feature] = float(
            col.number_input(
                views.feature_label(feature).capitalize(),
                min_value=0,
                step=1,
                value=int(current) if current is not None else 0,
                key=f"whatif_{score.get('instance')}_{feature}",
            )
        )
    return changed


def _what_if_result(result: views.WhatIf, before: float) -> None:
    left, right = st.columns([1, 3])
    left.metric(
        "Risk with these numbers",
        ui.percent(result.probability),
        ui.points(result.probability - before),
        delta_color="inverse",
        border=True,
        delta_description="vs scored",
    )
    with right:
        ui.chart(
            charts.shap_waterfall_chart(
                result.drivers,
                result.base,
                title="Drivers with these numbers",
                probability=result.probability,
            ),
            key="whatif_waterfall",
        )
