"""Delivery: the treatment list goes to the webhook with retries on 5xx/429 only and one idempotency key per
batch, against a real HTTP server on 127.0.0.1; every batch is audited."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from churn_core import views
from churn_core.access import actions
from churn_core.access.roles import AccessDenied, User
from churn_core.plays.assign import assign_plays
from churn_core.plays.delivery import KEY_HEADER, batch_key, treatment_list
from churn_core.plays.spec import parse_play
from churn_core.plays.store import create_play
from churn_core.warehouse import open_warehouse
from tests.churn_core.plays.conftest import SPEC
from tests.conftest import DEMO_END, HOSTILE_PRODUCT

ADMIN = User("admin@example.com", role="admin")


class Receiver:
    """What the server saw, and the answers it gives in turn (then 200)."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, dict]] = []


@pytest.fixture()
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver([])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.seen.append((self.headers[KEY_HEADER], body))
            self.send_response(state.answers.pop(0) if state.answers else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/s3cr3t-token-123"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _assigned(home, url: str):  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(home, plays_webhook_url=url, plays_webhook_backoff_seconds=0.001)
    warehouse = open_warehouse(settings)
    create_play(warehouse, parse_play(SPEC), "ana@example.com")
    assign_plays(warehouse, settings, DEMO_END)
    return settings, warehouse


def test_a_failed_batch_is_sent_again_with_the_same_key_and_audited(home, receiver) -> None:
    state, url = receiver
    state.answers = [503, 429]
    settings, warehouse = _assigned(home, url)
    [sent] = actions.push_play_lists(warehouse, settings, ADMIN)
    rows = treatment_list(warehouse, SPEC["name"], DEMO_END)
    assert (sent.attempts, sent.error, sent.contacts) == (3, "", len(rows)) and len(rows) == 40
    keys = [key for key, _ in state.seen]
    assert keys == [batch_key(SPEC["name"], DEMO_END, rows)] * 3
    body = state.seen[-1][1]
    assert (body["play"], body["date"], body["channel"], body["content_id"]) == (
        SPEC["name"],
        "2026-11-26",
        "phone",
        "PH-02",
    )
    assert [c["instance"] for c in body["contacts"]] == rows["instance"].tolist()
    [again] = actions.push_play_lists(warehouse, settings, ADMIN)  # a re-run sends the same batch: same key
    assert again.key == sent.key and state.seen[-1][0] == sent.key
    log = warehouse.query("SELECT action, detail, row_count FROM audit_log WHERE action = 'play_push'")
    assert len(log) == 2 and json.loads(log["detail"].iloc[0])["attempts"] == 3 and log["row_count"].iloc[0] == 40


def test_a_refused_batch_is_not_retried_and_the_token_never_shows(home, receiver) -> None:
    state, url = receiver
    state.answers = [400]
    settings, warehouse = _assigned(home, url)
    [sent] = actions.push_play_lists(warehouse, settings, ADMIN)
    assert sent.attempts == 1 and "refused the batch (400)" in sent.error and len(state.seen) == 1
    down = dataclasses.replace(settings, plays_webhook_url="http://127.0.0.1:9/hooks/s3cr3t-token-123")
    [failed] = actions.push_play_lists(warehouse, down, ADMIN)
    assert failed.attempts == settings.plays_webhook_attempts and "could not be reached" in failed.error
    details = " ".join(warehouse.query("SELECT detail FROM audit_log")["detail"])
    assert "s3cr3t" not in details and "s3cr3t" not in repr(settings)


def test_without_a_webhook_nothing_is_sent(home) -> None:
    warehouse = open_warehouse(home)
    create_play(warehouse, parse_play(SPEC), "ana@example.com")
    assign_plays(warehouse, home, DEMO_END)
    assert actions.push_play_lists(warehouse, home, ADMIN) == []


def test_the_list_export_is_formula_safe_for_those_who_run_plays_and_audited(home) -> None:
    warehouse = open_warehouse(home)
    create_play(warehouse, parse_play({**SPEC, "daily_capacity": 400, "eligibility": {}}), "ana@example.com")
    assign_plays(warehouse, home, DEMO_END)
    build = lambda: views.treatment_file(warehouse, SPEC["name"], DEMO_END)  # noqa: E731
    detail = {"play": SPEC["name"], "as_of": DEMO_END}
    with pytest.raises(AccessDenied):
        actions.export_rows(warehouse, User("m@example.com", role="marketer"), build, "csv", detail, audience="play")
    manager = User("boss@example.com", role="manager")
    payload = actions.export_rows(warehouse, manager, build, "csv", detail, audience="play")
    rows = list(csv.DictReader(io.StringIO(payload.decode("utf-8-sig"))))
    assert rows[0]["Contact order"] == "1" and rows[0]["Channel"] == "phone" and rows[0]["Content item"] == "PH-02"
    hostile = [r["Product"] for r in rows if "HYPERLINK" in r["Product"]]
    assert hostile and all(p == "'" + HOSTILE_PRODUCT for p in hostile)
    [entry] = warehouse.query("SELECT user_email, action, detail FROM audit_log").to_dict("records")
    assert entry["user_email"] == manager.email and json.loads(entry["detail"])["audience"] == "play"
