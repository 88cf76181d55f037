"""`churn dashboard`'s server: `streamlit run dashboard/app.py` in this process, warmed up for the first visitor.

A plain `streamlit run` imports the dashboard's modules, checks the newest score set's integrity and runs the
home page's queries when the first browser connects, which at 1,000,000 evaluators adds two to three seconds
to that first visit. Here a background thread does that work while the server starts (a visitor who arrives
meanwhile shares the work in progress: Python imports a module once, Streamlit computes each cached value once).
It prints a line beginning with READY when that work has ended (in a second or two at 1,000,000 evaluators).

    python -m dashboard.serve [streamlit run options...]
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
READY = "Home page data"  # starts the line printed once preparing has ended, well or not


def _prepare() -> None:
    import plotly.graph_objects  # noqa: F401  (the heavy imports, while the server starts)
    from streamlit import runtime

    import churn_core.views  # noqa: F401

    for _ in range(600):  # the runtime owns the caches: wait until the server has created it
        if runtime.exists():
            break
        time.sleep(0.05)
    # the dashboard's modules declare cached functions: imported once the runtime exists, so they use its caches
    from dashboard import auth, charts, data, filters, navigation, sections, ui  # noqa: F401
    from dashboard.sections import activation, at_risk, channels, drivers, model_health, profile  # noqa: F401

    started = time.perf_counter()
    try:
        data.prepare(data.settings())
    except Exception as exc:  # the page shows the same problem to the visitor; here it is only reported
        print(f"  {READY} not prepared: {ui.error_text(exc)}", flush=True)
    else:
        print(f"  {READY} prepared in {time.perf_counter() - started:.1f} s.", flush=True)


def main() -> None:
    from streamlit.web import cli  # here: importing READY (the tests do) need not load Streamlit's server

    threading.Thread(target=_prepare, name="churn-prepare", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
