"""docs/examples/*.py: every example runs (in this process, on the session's Spark where it needs one) and
prints what its README row promises; the README indexes every example."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from job_assets.contracts import REGISTRY
from job_assets.contracts import metrics as catalog

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
SPARK = {"add_a_table_contract.py", "add_a_gold_table.py"}
EXPECTED = {
    "add_a_table_contract.py": [
        "refused at declaration: rule amount_small: severity 'page-someone'",
        "silver.refunds: in the copy of the registry only",
        "amount_positive      quarantine failed 1 of 4",
        "quarantined (order_id -> _error): {101: 'out_of_range', 102: 'missing_required'}",
        "refund_id_unique: 0 duplicates in 2 rows",
        "stopped: data quality failure in silver.refunds: refund_id_unique (unique on None): 2 of 3 rows",
    ],
    "add_a_gold_table.py": [
        "revenue_non_negative: 0 failed of 3, grain_unique: 0 failed of 3",
        "('2026-12-01', 'Unknown') (Decimal('42.00'), 1)",
        "stopped: data quality failure in gold.revenue_by_segment: revenue_non_negative",
    ],
    "add_a_metric_and_alarm.py": [
        "validates with QuarantineRate",
        "a broken entry is refused: metric 'quarantine_rate': period 90s is not a multiple of 60",
        "prod: Lakehouse/prod QuarantineRate GreaterThanThreshold 2",
        "Watches silver.orders: QuarantineRate > 5. Runbook: https://example.org/runbooks/dq-score-low.md",
    ],
    "add_an_environment.py": [
        "refused: lakehouse.environments.qa: unknown environment; expected one of dev, staging, prod",
        "refused: lakehouse.environments.qa.network.cidr:",
        "loaded: Lakehouse-qa-Storage in 444444444444/",
    ],
    "read_gold_from_a_notebook.py": [
        "Webinar         2000.50",
        "gold.revenue_attribution       b1      2        6       0",
        "refused: gold.revenue_attribution: columns ['revenue_eur'] are not in its contract",
    ],
}


def test_every_example_is_indexed_and_checked():
    files = {p.name for p in EXAMPLES.glob("*.py")}
    assert files == set(EXPECTED), f"examples without a check here, or checks without a file: {files ^ set(EXPECTED)}"
    index = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert all(f"]({name})" in index for name in files), "docs/examples/README.md must link every example"


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=[n.removesuffix(".py") for n in sorted(EXPECTED)])
def test_example_runs_and_prints_what_it_shows(name, request, capsys, monkeypatch):
    if name in SPARK:
        request.applymarker(pytest.mark.spark)
        spark = request.getfixturevalue("spark")  # the session's Spark: the example picks up the active session
        partitions = spark.conf.get("spark.sql.shuffle.partitions")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the CDK examples put the checkout first
    registry, metrics = dict(REGISTRY), dict(catalog.BY_KEY)
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")  # an AssertionError inside fails the test
    out = capsys.readouterr().out
    missing = [line for line in EXPECTED[name] if line not in out]
    assert not missing, f"{name} no longer prints {missing}:\n{out}"
    assert out.rstrip().splitlines()[-1].startswith("OK: ")
    assert registry == REGISTRY and metrics == catalog.BY_KEY, "an example changed the real registries"
    if name in SPARK:
        assert spark.conf.get("spark.sql.shuffle.partitions") == partitions, "an example reconfigured the session"
