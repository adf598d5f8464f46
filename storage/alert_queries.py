"""The alert tables (schema version 4): what the rule evaluator keeps, and what ``glimpse alerts`` reads.

Reads are ``queries/alerts/*.sql``. :func:`record_alerts` writes, in one transaction on the
connection it is given: the evaluator of ``glimpse serve`` calls it on a cursor of the
server's database, off the ingest writer's thread (the alert tables are written by nobody else).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from storage.named_queries import run_query
from storage.window import SpanWindow

__all__ = [
    "alert_history_rows",
    "alert_state_rows",
    "last_action_times",
    "record_alerts",
    "remediation_audit_rows",
    "slow_request_rows",
]

_JSON_COLUMNS = ("labels", "annotations", "root_causes", "evidence")
_STATE_COLUMNS = (
    "alert",
    "state",
    "value",
    "active_since",
    "fired_at",
    "resolved_at",
    "evaluated_at",
    "scope",
    "signal",
    "labels",
    "annotations",
    "root_causes",
)
_TIMES = ("active_since", "fired_at", "resolved_at", "evaluated_at")


def _decoded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        for column in _JSON_COLUMNS:
            if column in row:
                row[column] = json.loads(row[column])
    return rows


def alert_state_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every alert's state; times in unix ns (None when unset); labels, annotations, root causes decoded."""
    return _decoded(run_query(con, "alerts/state"))


def alert_history_rows(con: duckdb.DuckDBPyConnection, *, limit: int = 500) -> list[dict[str, Any]]:
    """The latest ``limit`` state changes, latest first."""
    return _decoded(run_query(con, "alerts/history", params={"limit": limit}))


def remediation_audit_rows(con: duckdb.DuckDBPyConnection, *, limit: int = 500) -> list[dict[str, Any]]:
    """The latest ``limit`` rows of the remediation audit, latest first."""
    return _decoded(run_query(con, "alerts/audit", params={"limit": limit}))


def last_action_times(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """(target kind, target name) -> when it was last acted on (dry runs included), unix ns."""
    return {(r["target_kind"], r["target_name"]): int(r["last_ns"]) for r in run_query(con, "alerts/last_actions")}


def record_alerts(
    con: duckdb.DuckDBPyConnection,
    states: Iterable[Mapping[str, Any]],
    changes: Iterable[Mapping[str, Any]],
    actions: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Make ``states`` the whole of glimpse_alert_state and append ``changes`` and ``actions``,
    in one transaction.

    A state has the columns of glimpse_alert_state (times as unix ns or None); a change has
    ``alert``, ``at`` (ns), ``from_state``, ``to_state``, ``value``, ``root_causes``; an action
    the columns of glimpse_remediation_audit (``requested_at`` in ns, ``evidence`` a mapping).
    """
    state_rows = [_state_row(state) for state in states]
    change_rows = [
        [c["alert"], c["at"], c["from_state"], c["to_state"], c["value"], json.dumps(list(c["root_causes"]))]
        for c in changes
    ]
    action_rows = [
        [
            a["requested_at"],
            a["alert"],
            a["target_kind"],
            a["target_name"],
            a["action_url"],
            a["outcome"],
            a["remediation"],
            json.dumps(a["evidence"]),
        ]
        for a in actions
    ]
    placeholders = ", ".join("make_timestamp_ns(?::BIGINT)" if column in _TIMES else "?" for column in _STATE_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM glimpse_alert_state")  # a rule taken out of the file leaves no state
        if state_rows:
            con.executemany(
                f"INSERT INTO glimpse_alert_state ({', '.join(_STATE_COLUMNS)}) VALUES ({placeholders})",
                state_rows,
            )
        if change_rows:
            con.executemany(
                "INSERT INTO glimpse_alert_history VALUES (?, make_timestamp_ns(?::BIGINT), ?, ?, ?, ?)", change_rows
            )
        if action_rows:
            con.executemany(
                "INSERT INTO glimpse_remediation_audit VALUES (make_timestamp_ns(?::BIGINT), ?, ?, ?, ?, ?, ?, ?)",
                action_rows,
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _state_row(state: Mapping[str, Any]) -> list[Any]:
    return [json.dumps(state[c]) if c in _JSON_COLUMNS else state[c] for c in _STATE_COLUMNS]


def slow_request_rows(con: duckdb.DuckDBPyConnection, window: SpanWindow, *, slow_ms: float) -> list[dict[str, Any]]:
    """Per (level, entity): requests in the window and how many took longer than ``slow_ms``."""
    params = {**window.params, "bucket": window.until_ns - window.since_ns, "sample": 1, "slow_ms": slow_ms}
    return run_query(con, "incidents/red_levels", "alerts/slow_requests", params=params)
