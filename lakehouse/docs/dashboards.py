"""``lakehouse dashboards export``: the dashboard model (``platform_model/dashboards.py``) rendered to files.

Writes the CloudWatch bodies the Observability stack deploys to ``dashboards/cloudwatch/``, the same
dashboards as Grafana JSON to ``dashboards/grafana/``, and the metric catalog's reference, docs/METRICS.md;
a test fails when those files are stale.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from job_assets.contracts import metrics as catalog
from lakehouse.checkout import CheckoutError, load_cdk_config
from lakehouse.docs import generated
from platform_model.dashboards import (
    GRID_WIDTH,
    Dashboard,
    Line,
    Panel,
    Targets,
    cloudwatch_body,
    cloudwatch_dashboard_name,
    dashboards,
    line_label,
    panel_positions,
    searched_dimensions,
)

__all__ = ["GRID_WIDTH", "Targets", "dashboards"]  # the model, re-exported for the CLI's callers

GRAFANA_SCHEMA_VERSION = 42
"""The classic dashboard JSON model as Grafana 12.3 and 13 export it (``schemaVersion`` 42). It imports on
every current Grafana and is the format of grafana.com/dashboards; Grafana's V2 resource model is still in
public preview."""


# --- Grafana ---------------------------------------------------------------------------------------------------


_GRAFANA_DATASOURCE = {"type": "cloudwatch", "uid": "${DS_CLOUDWATCH}"}
"""The data source every panel and query uses: the one Grafana's import dialog asks for (``DS_CLOUDWATCH``)."""


def _grafana_target(i: int, line: Line, t: Targets) -> dict[str, Any]:
    """The query of a panel's ``i``-th line: an exact-schema search, ``*`` for the values known after deploy."""
    spec = catalog.metric(line.metric)
    searched = searched_dimensions(line)
    dims: dict[str, Any] = {name: line.dims[name] for name in spec.dimensions if name in line.dims}
    dims.update({name: "*" for name in searched})
    return {
        "refId": chr(ord("A") + i),
        "datasource": _GRAFANA_DATASOURCE,
        "queryMode": "Metrics",
        "metricQueryType": 0,
        "metricEditorMode": 0,
        "namespace": spec.namespace_for(t.env),
        "metricName": spec.name,
        "dimensions": dims,
        "matchExact": True,
        "statistic": spec.statistic,
        "period": str(spec.period_seconds),
        "region": line.region or "default",
        "label": line_label(line),
        "id": "",
        "expression": "",
    }


def _grafana_panel(n: int, panel: Panel, position: tuple[int, int], t: Targets) -> dict[str, Any]:
    """The ``n``-th panel (1-based id) at grid ``position``: a time series with its thresholds as lines."""
    x, y = position
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    steps += [{"color": "red", "value": value} for _, value in panel.thresholds]
    return {
        "id": n,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": _GRAFANA_DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "targets": [_grafana_target(i, line, t) for i, line in enumerate(panel.lines)],
        "fieldConfig": {
            "defaults": {
                "unit": _grafana_unit(catalog.metric(panel.lines[0].metric).unit),
                "custom": {
                    "stacking": {"mode": "normal" if panel.stacked else "none"},
                    "thresholdsStyle": {"mode": "line" if panel.thresholds else "off"},
                },
                "thresholds": {"mode": "absolute", "steps": steps},
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
    }


def grafana_dashboard(board: Dashboard, t: Targets) -> dict[str, Any]:
    """A Grafana dashboard on the CloudWatch data source, in the shareable export form.

    ``__inputs`` makes Grafana's import dialog ask which CloudWatch data source to use (``DS_CLOUDWATCH``).
    Every query is an exact-schema search (``matchExact``): ``*`` stands for the dimension values known only
    after deploy, and a series with more dimensions (EMR's per-job series) never adds to a panel.
    """
    positions = panel_positions(board.panels)
    panels = [
        _grafana_panel(n, panel, position, t)
        for n, (panel, position) in enumerate(zip(board.panels, positions, strict=True), start=1)
    ]
    return {
        "title": board.title,
        "uid": f"{t.prefix}-{board.key}"[:40],
        "tags": ["lakehouse", t.env],
        "timezone": "utc",
        "schemaVersion": GRAFANA_SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "time": {"from": "now-7d", "to": "now"},
        "refresh": "5m",
        "__inputs": [
            {
                "name": "DS_CLOUDWATCH",
                "label": "CloudWatch",
                "description": f"CloudWatch of the {t.env} account ({t.account}), region {t.region}",
                "type": "datasource",
                "pluginId": "cloudwatch",
                "pluginName": "CloudWatch",
            }
        ],
        "__requires": [
            {"type": "datasource", "id": "cloudwatch", "name": "CloudWatch", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
        ],
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def _grafana_unit(unit: str) -> str:
    return {"Seconds": "s", "Milliseconds": "ms", "Count": "short", "Percent": "percent", "Bytes": "bytes"}.get(
        unit, "none"
    )


# --- files -----------------------------------------------------------------------------------------------------


def render_json(document: Mapping[str, Any]) -> str:
    """Stable text for committed files: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def rendered_files(targets: Sequence[Targets]) -> dict[str, str]:
    """Relative path (under the repo root) -> content, for every environment's dashboards."""
    files: dict[str, str] = {}
    for t in targets:
        for board in dashboards(t):
            name = cloudwatch_dashboard_name(board, t)
            files[f"dashboards/cloudwatch/{name}.json"] = render_json(cloudwatch_body(board, t))
            files[f"dashboards/grafana/{name}.json"] = render_json(grafana_dashboard(board, t))
    return files


def metrics_markdown() -> str:
    """``docs/METRICS.md``: the catalog as a reference table (generated; edit the catalog, not the file)."""
    lines = [
        "# Metrics",
        "",
        "<!-- Generated by `lakehouse dashboards export` from job_assets/contracts/metrics.py: do not edit. -->",
        "",
        "Every metric the platform charts or alarms on. Ours live in `Lakehouse/<env>` (one namespace per",
        "environment) and keep the `Environment` dimension. Thresholds are per environment where they differ;",
        "alarm descriptions end with the runbook link. Dashboards: [dashboards/](../dashboards/README.md).",
        "",
        "| metric | namespace | dimensions | unit | statistic, period | published by | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in catalog.METRICS:
        namespace = "`Lakehouse/<env>`" if m.ours else f"`{m.namespace}`"
        period = f"{m.statistic}, {m.period_seconds // 60} min"
        lines.append(
            f"| `{m.name}` | {namespace} | {', '.join(m.dimensions)} | {m.unit} | {period} | {m.publisher} "
            f"| {m.description} |"
        )
    lines += [
        "",
        "## Alarms",
        "",
        "| metric | fires when | datapoints | missing data | in `pipeline-unhealthy` | runbook |",
        "|---|---|---|---|---|---|",
    ]
    symbols = {catalog.GREATER_OR_EQUAL: ">=", catalog.GREATER: ">", catalog.LESS: "<"}
    for m in catalog.alarmed():
        a = m.alarm
        assert a is not None
        threshold = "the table contract's SLO" if a.threshold is None else f"{a.threshold:g}"
        if a.of_maximum:
            threshold += f"% of `{catalog.metric(a.of_maximum).name}`"
        overrides = "".join(f", {env}: {value:g}" for env, value in a.per_environment)
        lines.append(
            f"| `{m.name}` (`{m.key}`) | {symbols.get(a.comparison, a.comparison)} {threshold}{overrides} "
            f"| {a.datapoints_to_alarm} of {a.evaluation_periods} | {a.missing_data} "
            f"| {'yes' if a.in_pipeline_health else 'no'} | [{a.runbook}](../runbooks/{a.runbook}) |"
        )
    return "\n".join(lines) + "\n"


class ExportError(Exception):
    """The export cannot run here (names what is missing)."""


def load_targets(repo_root: Path) -> tuple[Targets, ...]:
    """Every environment of the checkout's ``cdk.json``, validated as ``cdk synth`` validates it."""
    try:
        _, config = load_cdk_config(repo_root)
    except CheckoutError as error:
        raise ExportError(str(error)) from error
    return tuple(Targets.from_config(c) for c in config.environments.values())


def export_files(repo_root: Path) -> dict[str, str]:
    """Everything ``lakehouse dashboards export`` writes: the dashboards of every environment and METRICS.md."""
    files = rendered_files(load_targets(repo_root))
    files["docs/METRICS.md"] = metrics_markdown()
    return files


OWNED = ("dashboards/cloudwatch/*.json", "dashboards/grafana/*.json")
"""What ``lakehouse dashboards export`` owns: a dashboard file there no environment has is stale (removed)."""


def stale_files(repo_root: Path) -> list[str]:
    """Generated files that are missing or differ from what the catalog renders now, plus strays."""
    return generated.stale_files(repo_root, export_files(repo_root), OWNED)


def write_files(repo_root: Path) -> tuple[list[str], list[str]]:
    """Write the generated files; remove dashboard files no environment has any more. (written, removed)."""
    return generated.write_files(repo_root, export_files(repo_root), OWNED)
