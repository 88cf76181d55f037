"""`churn dashboard`'s server: `streamlit run dashboard/app.py` in this process, warmed up for the first visitor.

Before it listens it settles Streamlit's configuration exactly as `streamlit run` will (flags, environment,
config files) and refuses to start when sign-in is misconfigured, or when no sign-in is configured and the
address is not loopback (churn_core.access.roles.check_exposure); with no address given it listens on 127.0.0.1,
not on every interface as Streamlit would. The app checks the same again on every page (dashboard/auth.py).

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

from churn_core.access.roles import AccessDenied, check_exposure
from churn_core.secrets import redact

APP = Path(__file__).resolve().parent / "app.py"
READY = "Home page data"  # starts the line printed once preparing has ended, well or not
DEFAULT_ADDRESS = "127.0.0.1"


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


def exposure(args: list[str]) -> tuple[str | None, list[Path]]:
    """The address the server will listen on and the secrets files the app will read, from Streamlit's own
    configuration with these `streamlit run` options (so the check sees what Streamlit will do)."""
    from streamlit import config  # here: importing READY (the tests do) need not load Streamlit's server
    from streamlit.web import bootstrap, cli

    context = cli.main_run.make_context("run", [str(APP), *args])
    flags = {k: v for k, v in context.params.items() if k not in ("target", "args")}
    config._main_script_path = str(APP)  # as `streamlit run` sets it: the app folder's .streamlit/ counts too
    bootstrap.load_config_options(flag_options=flags)
    return config.get_option("server.address"), [Path(p) for p in config.get_option("secrets.files")]


def main() -> None:
    from streamlit.web import cli  # see exposure()

    args = sys.argv[1:]
    address, files = exposure(args)
    if not address:  # Streamlit's default is every interface
        address = DEFAULT_ADDRESS
        args += ["--server.address", address]
    try:
        check_exposure(address, files)
    except AccessDenied as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    threading.Thread(target=_prepare, name="churn-prepare", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *args]
    cli.main()


if __name__ == "__main__":
    main()
