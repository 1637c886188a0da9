"""`history_entry`: the one normalisation of a commit's ``commitInfo`` that both engines' ``history()`` use
(job_assets/engine/base.py). The engine contract suite runs it on real tables; these are the cases a table of
today's writers does not show."""

from __future__ import annotations

import json

from job_assets.engine.base import HISTORY_KEYS, history_entry

SPARK_MERGE = {  # as Delta on Spark writes it: parameters and metrics as strings
    "timestamp": 1796600000123,
    "operation": "MERGE",
    "operationParameters": {"predicate": '["(s.order_id = t.order_id)"]', "matchedPredicates": "[]"},
    "operationMetrics": {"numTargetRowsInserted": "7", "numTargetRowsUpdated": "2", "executionTimeMs": "1.5e3"},
    "userMetadata": json.dumps({"operation": "MERGE", "txn": "silver:b1@1"}),
    "engineInfo": "Apache-Spark/3.5.6 Delta-Lake/3.3.2",
}
RS_MERGE = {  # as delta-rs writes it: numbers as numbers, a parameter as a JSON value
    "timestamp": 1796600000123,
    "operation": "MERGE",
    "operationParameters": {"predicate": '["(s.order_id = t.order_id)"]', "matchedPredicates": []},
    "operationMetrics": {"num_target_rows_inserted": 7, "num_target_rows_updated": 2, "execution_time_ms": 1500},
    "userMetadata": json.dumps({"operation": "MERGE", "txn": "silver:b1@1"}),
    "clientVersion": "delta-rs.0.25",
}


def test_both_engines_commit_info_normalise_to_the_same_shape() -> None:
    spark, rs = history_entry(4, SPARK_MERGE), history_entry(4, RS_MERGE)
    for entry in (spark, rs):
        assert tuple(entry) == HISTORY_KEYS
        assert entry["version"] == 4 and entry["timestamp"] == 1796600000123 and entry["operation"] == "MERGE"
        assert entry["userMetadata"] == {"operation": "MERGE", "txn": "silver:b1@1"}
        assert all(isinstance(v, str) for v in entry["operationParameters"].values())
        assert all(isinstance(v, int) for v in entry["operationMetrics"].values())
    assert spark["operationParameters"] == rs["operationParameters"]
    assert spark["operationMetrics"] == {"numTargetRowsInserted": 7, "numTargetRowsUpdated": 2, "executionTimeMs": 1500}


def test_a_commit_without_its_own_timestamp_takes_its_file_time() -> None:
    info = {k: v for k, v in SPARK_MERGE.items() if k != "timestamp"}
    assert history_entry(0, info, listed_ms=1796600009999)["timestamp"] == 1796600009999
    assert history_entry(0, SPARK_MERGE, listed_ms=1796600009999)["timestamp"] == 1796600000123  # its own wins
    assert history_entry(0, {})["timestamp"] == 0 and history_entry(0, {})["userMetadata"] == {}


def test_commits_from_before_user_metadata_read_the_same() -> None:
    legacy = {"timestamp": 1, "operation": "WRITE", "lakehouse.operation": "APPEND", "lakehouse.txn": "bronze:b0@1"}
    legacy["rows"] = 12
    assert history_entry(0, legacy)["userMetadata"] == {"operation": "APPEND", "txn": "bronze:b0@1", "rows": 12}


def test_a_persons_note_is_not_our_metadata() -> None:
    assert history_entry(0, {**SPARK_MERGE, "userMetadata": "backfill after the outage"})["userMetadata"] == {}
