"""DataFrame -> plotly figure, one `_chart` function per picture; no Streamlit here, so each is testable.

The modules follow the pages: evaluator (the profile page), activation, channels, drivers and health
(model health); theme holds the shared colours and layout. Import from here: `from dashboard import charts`.
"""

from dashboard.charts.activation import (
    activation_curves_chart,
    activation_segments_chart,
    activation_trend_chart,
    early_actions_chart,
    segment_trend_chart,
)
from dashboard.charts.channels import channel_effects_chart, channel_rates_chart, content_effects_chart
from dashboard.charts.drivers import (
    beeswarm_chart,
    correlation_chart,
    dependence_chart,
    pca_chart,
    shap_importance_chart,
    stayers_churners_chart,
)
from dashboard.charts.evaluator import (
    TOUCH_OUTCOMES,
    channel_uplift_chart,
    daily_activity_chart,
    feature_vs_cohorts_chart,
    risk_history_chart,
    shap_change_chart,
    shap_waterfall_chart,
    touches_chart,
)
from dashboard.charts.health import (
    confusion_matrix_chart,
    curve_chart,
    drift_chart,
    lift_chart,
    realised_chart,
    threshold_chart,
)
from dashboard.charts.theme import (
    CONTROL,
    DIVERGING,
    FONT,
    HIGHLIGHT,
    LOWERS,
    MUTED,
    NEUTRAL,
    RAISES,
    RISK_COLOURS,
    SEQUENCE,
    SEQUENTIAL,
    empty_chart,
)

__all__ = [
    "CONTROL",
    "DIVERGING",
    "FONT",
    "HIGHLIGHT",
    "LOWERS",
    "MUTED",
    "NEUTRAL",
    "RAISES",
    "RISK_COLOURS",
    "SEQUENCE",
    "SEQUENTIAL",
    "TOUCH_OUTCOMES",
    "activation_curves_chart",
    "activation_segments_chart",
    "activation_trend_chart",
    "beeswarm_chart",
    "channel_effects_chart",
    "channel_rates_chart",
    "channel_uplift_chart",
    "confusion_matrix_chart",
    "content_effects_chart",
    "correlation_chart",
    "curve_chart",
    "daily_activity_chart",
    "dependence_chart",
    "drift_chart",
    "early_actions_chart",
    "empty_chart",
    "feature_vs_cohorts_chart",
    "lift_chart",
    "pca_chart",
    "realised_chart",
    "risk_history_chart",
    "segment_trend_chart",
    "shap_change_chart",
    "shap_importance_chart",
    "shap_waterfall_chart",
    "stayers_churners_chart",
    "threshold_chart",
    "touches_chart",
]
