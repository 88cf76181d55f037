"""The dashboard's server refuses to start open beyond this machine, or at all when sign-in is misconfigured:
`python -m dashboard.serve` (what `churn dashboard` runs, and what anyone may run by hand) checks the address
and every secrets file Streamlit will read before it listens."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.browser import ROOT, free_port

VALID_AUTH = (
    "[auth]\n"
    'redirect_uri = "https://churn.example.com/oauth2callback"\n'
    'cookie_secret = "a-long-random-cookie-secret"\n'
    'client_id = "churn"\nclient_secret = "s3cret"\n'
    'server_metadata_url = "https://idp.example.com/.well-known/openid-configuration"\n'
)


def serve(tmp_path: Path, *args: str, home_secrets: str | None, project_secrets: str | None) -> tuple[int | None, str]:
    """Run the server from a project folder of its own, with HOME in tmp; (exit code or None if it kept
    running for 20 s, its output). A server that starts is stopped."""
    home, project = tmp_path / "home", tmp_path / "project"
    for folder, text in ((home, home_secrets), (project, project_secrets)):
        (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
        if text is not None:
            (folder / ".streamlit" / "secrets.toml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "STREAMLIT_"))}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), CHURN_HOME=str(tmp_path / "churn"))
    port = free_port()
    command = [sys.executable, "-m", "dashboard.serve", *args, "--server.port", str(port), "--server.headless", "true"]
    with subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        try:
            output, _ = process.communicate(timeout=20)
            return process.returncode, output.decode(errors="replace")
        except subprocess.TimeoutExpired:
            reachable = _reachable(f"http://{_outside_address()}:{port}/_stcore/health")
            process.terminate()
            output, _ = process.communicate(timeout=20)
            assert not reachable, f"served to the network: {output.decode(errors='replace')}"
            return None, output.decode(errors="replace")
        finally:
            if process.poll() is None:
                process.kill()


def _reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except OSError:
        return False
    return True


def _outside_address() -> str:
    """An address of this machine that is not loopback (the first of `hostname -I`), else skip."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    if not found:
        pytest.skip("this machine has no address beyond loopback")
    return found[0]


def test_a_broken_home_secrets_file_refuses_the_network_and_loopback(tmp_path) -> None:
    """Finding 1: a valid [auth] in the project's secrets.toml and a TOML syntax error in ~/.streamlit's."""
    for address in ("0.0.0.0", "127.0.0.1"):
        code, output = serve(
            tmp_path / address, "--server.address", address, home_secrets="[auth\n", project_secrets=VALID_AUTH
        )
        assert code == 1, output
        assert "sign-in is misconfigured" in output and "secrets.toml" in output, output


def test_auth_of_the_wrong_type_is_misconfigured_not_a_traceback(tmp_path) -> None:
    code, output = serve(tmp_path, "--server.address", "127.0.0.1", home_secrets=None, project_secrets='auth = "yes"\n')
    assert code == 1 and "sign-in is misconfigured" in output and "Traceback" not in output, output


def test_open_mode_is_refused_on_a_network_address(tmp_path) -> None:
    """Finding 2: the host check lived only in `churn dashboard`; the server itself served open admin mode."""
    code, output = serve(tmp_path, "--server.address", "0.0.0.0", home_secrets=None, project_secrets=None)
    assert code == 1 and "refusing to listen on 0.0.0.0" in output, output


def test_open_mode_without_an_address_listens_on_loopback_only(tmp_path) -> None:
    """Streamlit without --server.address listens on every interface; the server pins 127.0.0.1 instead."""
    code, output = serve(tmp_path, home_secrets=None, project_secrets=None)
    assert code is None, output  # it ran until stopped, and was not reachable from outside (checked in serve)
