"""Load: 20 concurrent browser sessions on one `streamlit run dashboard/app.py`, each in its own Playwright
context of one Chromium, open the at-risk page and an evaluator profile without errors.

Render times (navigation until the table and its row count, or the profile's SHAP waterfall, are on screen)
are printed (`pytest -s`) and recorded as user properties, never asserted: the machine is shared and noisy.
So are the CPU seconds the server used and those of the sessions' Chromium renderers: on 2 cores the
browser's share is several times the server's, so render times here measure the client as much as the server.
The first session's pages are saved as screenshots/load-at-risk.png and load-profile.png.
"""

from __future__ import annotations

import pytest

from churn_core import views
from churn_core.warehouse import open_warehouse
from tests.conftest import SCORE_DATES
from tests.dashboard.browser import (
    CHROMIUM,
    INSTALL_HINT,
    ROOT,
    load_sessions,
    load_summary,
    process_cpu_s,
    streamlit_server,
    summary_line,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=INSTALL_HINT),
]

SESSIONS = 20
TIMEOUT = 300.0  # seconds per wait: 20 sessions on 2 shared cores can take minutes (the browser's work dominates)


def test_concurrent_sessions_render_at_risk_and_a_profile(scored_home, record_property):
    warehouse = open_warehouse(scored_home, read_only=True)
    instances = views.at_risk_page(warehouse, SCORE_DATES[-1], views.Filters(), "risk", 0, SESSIONS)["instance"]
    total = views.at_risk_summary(warehouse, SCORE_DATES[-1], views.Filters()).evaluators
    assert len(instances) == SESSIONS
    with streamlit_server(ROOT / "dashboard" / "app.py", {"CHURN_HOME": str(scored_home.home)}) as (url, pid):
        started = process_cpu_s(pid)
        results = load_sessions(url, instances.astype(int).tolist(), SESSIONS, TIMEOUT, screenshot="load")
        server_cpu_s = process_cpu_s(pid) - started
    summary = {**load_summary(results), "server_cpu_s": server_cpu_s}
    for key, value in summary.items():
        record_property(key, value)
    print(f"\nload: {summary_line(summary)}")
    failed = [f"session {r.session} (instance {r.instance}): {'; '.join(r.errors)}" for r in results if r.errors]
    assert not failed, "\n".join(failed)
    assert len(results) == SESSIONS
    for r in results:
        assert r.at_risk_s is not None and r.profile_s is not None
        assert f"of {total:,} matching evaluators" in r.rows_caption
