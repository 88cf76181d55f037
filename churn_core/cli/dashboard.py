"""`churn dashboard`: serve the Streamlit app from the folder that holds it (and its .streamlit/).

The command becomes the server (exec): stopping it (Ctrl-C, SIGTERM from systemd or a test) stops the server
itself, never leaving a child serving on the port.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from churn_core.access.roles import check_exposure
from churn_core.cli.common import fail, settings
from churn_core.errors import ChurnError
from churn_core.secrets import APP_ROOT, secrets_files


def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
) -> None:
    """Start the Streamlit dashboard (run `churn demo` first to have data to look at)."""
    try:  # a quick refusal here; dashboard.serve checks again with the files and address Streamlit settles on
        check_exposure(host, secrets_files(APP_ROOT))
    except ChurnError as exc:
        fail(exc)
    command = [
        sys.executable,
        "-m",
        "dashboard.serve",  # streamlit run dashboard/app.py, warmed up
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    env = {**os.environ, "CHURN_HOME": str(settings().home.resolve())}
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(APP_ROOT)
    os.execve(sys.executable, command, env)
