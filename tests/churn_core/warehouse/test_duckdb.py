"""The DuckDB adapter shares its file with other processes: it waits for their lock, then says it may pass."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from churn_core.errors import TransientError
from churn_core.warehouse import duckdb as duckdb_adapter
from churn_core.warehouse.duckdb import DuckDBWarehouse

HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"


@pytest.fixture()
def holder(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """Another process with the warehouse file open for writing, and what makes it let go."""
    path = tmp_path / "warehouse.duckdb"
    DuckDBWarehouse(path).write_table("t", pd.DataFrame({"a": [1]}))
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    assert process.stdout.readline().strip() == "holding"
    stdin = process.stdin

    def release() -> None:
        if not stdin.closed:
            stdin.close()

    yield path, release
    release()
    process.wait(timeout=10)
    process.stdout.close()


def test_a_lock_held_by_another_process_is_waited_for_then_reported_as_transient(holder, monkeypatch) -> None:
    path, release = holder
    monkeypatch.setattr(duckdb_adapter, "LOCK_WAIT_SECONDS", 0.2)
    with pytest.raises(TransientError, match=rf"cannot open the warehouse {path}: another process holds it"):
        DuckDBWarehouse(path).query("SELECT a FROM t")
    monkeypatch.setattr(duckdb_adapter, "LOCK_WAIT_SECONDS", 30.0)
    threading.Timer(0.3, release).start()  # the other process finishes while we wait
    assert DuckDBWarehouse(path).query("SELECT a FROM t")["a"].tolist() == [1]
