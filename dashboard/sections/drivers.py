"""The drivers page's building blocks: stayers against churners, feature by feature."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def outcome_table(by_outcome: pd.DataFrame) -> None:
    """Median and mean of each feature for stayers and churners, with what the feature counts."""
    if by_outcome.empty:
        return
    number = st.column_config.NumberColumn
    config = {
        "label": st.column_config.TextColumn("Feature"),
        "doc": st.column_config.TextColumn("What it counts"),
        "retained_median": number("Stayers (median)", format="%.1f"),
        "churned_median": number("Churners (median)", format="%.1f"),
        "retained_mean": number("Stayers (mean)", format="%.1f"),
        "churned_mean": number("Churners (mean)", format="%.1f"),
        "ratio": number("Stayers ÷ churners (mean)", format="%.2f×"),
    }
    order = ["label", "retained_median", "churned_median", "retained_mean", "churned_mean", "ratio", "doc"]
    st.dataframe(by_outcome, column_config=config, column_order=order, hide_index=True)
    n1, n0 = int(by_outcome["retained_n"].iloc[0]), int(by_outcome["churned_n"].iloc[0])
    st.caption(f"Week-1 features of {n1:,} evaluators who bought and {n0:,} who left (instances_modeling).")
