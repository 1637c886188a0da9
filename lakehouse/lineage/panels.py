"""Dashboard panels of ``lakehouse lineage impact``: the tables each dashboard panel charts a per-table series of.

A dashboard panel (``platform_model/dashboards.py``) "depends" on a table when one of its lines is a per-table
series about that table: the line's metric has the catalog's ``Table`` dimension and the line either fixes
it to the table or leaves it open (a ``SEARCH``) while the metric's publisher reports that table: the
Spark jobs report every data table of the line's job (bronze tables, silver current tables, gold tables;
``DQScore`` only for tables with rules), the freshness monitor every silver and gold table with an SLO,
the replica verifier every table. So it means "the panel shows a figure (records written, DQ score,
freshness, replica lag) of an affected table" -- such a figure may move when the item changes. Panels
whose series are per job or lake-wide (job durations, quarantine by reason, ``ReplicaConsistent``) never
depend on a single table. The ``dr`` dashboard exists only in environments with replication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from job_assets.contracts import BRONZE_TABLES, GOLD_TABLES, SILVER_TABLES
from job_assets.contracts import metrics as catalog

SILVER_JOB_TABLES = ("silver.fx_rates", "silver.accounts", "silver.contacts", "silver.opportunities")
SILVER_JOB_TABLES += ("silver.customers", "silver.orders", "silver.order_items")
"""Tables the silver job reports run figures for (``SILVER_CURRENT``; accounts_history is written with
accounts and has no figures of its own)."""


@dataclass(frozen=True)
class Panel:
    """One dashboard panel: its dashboard, title, and the tables and metrics it charts."""

    dashboard: str
    """Dashboard key: pipeline, emr, cost, dr (CloudWatch name ``<prefix>-<key>``)."""
    title: str
    tables: tuple[str, ...]
    """Tables the panel charts a per-table series of."""
    metrics: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.dashboard}: {self.title}"


def _series_tables(metric: Any, dims: dict[str, str]) -> set[str]:
    """Tables a metric has a per-table series for, given the dimension values a panel line fixes."""
    if catalog.TABLE in dims:
        return {dims[catalog.TABLE]}
    data = {c.name: c for c in (*BRONZE_TABLES, *SILVER_TABLES, *GOLD_TABLES)}
    if metric.publisher == catalog.JOBS:
        by_job = {
            "bronze": [c.name for c in BRONZE_TABLES],
            "silver": list(SILVER_JOB_TABLES),
            "gold": [c.name for c in GOLD_TABLES],
            "maintenance": list(data),
        }
        jobs = [dims[catalog.JOB]] if catalog.JOB in dims else list(by_job)
        names = {n for j in jobs for n in by_job.get(j, [])}
        if metric.key == "dq_score":
            names = {n for n in names if data[n].rules}
        return names
    if metric.key == "freshness_minutes":
        return {c.name for c in (*SILVER_TABLES, *GOLD_TABLES) if c.freshness_slo_minutes is not None}
    return set(data)  # the replica verifier (and anything else per table): every table


def dashboard_panels() -> list[Panel]:
    """Every panel of every dashboard (replication on, so the DR board too) with the tables it charts."""
    from platform_model import aws_names
    from platform_model.dashboards import Targets, dashboards

    targets = Targets(
        env="dev",
        project=aws_names.DEFAULT_PROJECT,
        account="000000000000",
        region="us-east-1",
        dr_region="us-west-2",
        replication=True,
        budget_usd=1.0,
    )
    out = []
    for board in dashboards(targets):
        for panel in board.panels:
            tables: set[str] = set()
            metrics = []
            for line in panel.lines:
                spec = catalog.metric(line.metric)
                if catalog.TABLE not in spec.dimensions:
                    continue
                tables |= _series_tables(spec, dict(line.dims))
                metrics.append(spec.name)
            out.append(Panel(board.key, panel.title, tuple(sorted(tables)), tuple(dict.fromkeys(metrics))))
    return out
