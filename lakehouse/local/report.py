"""`lakehouse report`: one self-contained HTML page about the local lake, with charts, for people without AWS.

It reads the lake's own records with delta-rs (no Spark start-up): every layer's run summary (the same
figures the jobs publish to CloudWatch on AWS), the quarantine tables, and the silver and gold tables'
last commits. Charts are inline SVG drawn here, styles are inline: no script or stylesheet from anywhere,
so the file opens offline, from a mail attachment or a CI artifact. Each chart's marks carry a tooltip
(``<title>``) with the exact figure.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from job_assets.context import LakeLocations
from job_assets.contracts import GOLD_TABLES, SILVER_TABLES
from job_assets.contracts import metrics as catalog
from job_assets.contracts.layout import JOBS, LAYERS
from job_assets.delta_read import DeltaReader

READER = DeltaReader()
"""The report's one read path to the lake's tables."""

COLORS = {
    "bronze": "#b0703c",
    "silver": "#7b8794",
    "gold": "#d4a017",
    "maintenance": "#5b7fb8",
    "quarantined": "#c0392b",
    "held": "#e08e0b",
    "within SLO": "#2e7d32",
    "past SLO": "#c0392b",
}
MAX_RUNS_CHARTED = 12
MAX_RUNS_LISTED = 20


class ReportError(Exception):
    """The lake cannot be reported on (names the folder and what is missing)."""


@dataclass(frozen=True)
class Run:
    """One job run in the report: job, batch, status, end, duration and records in, out and quarantined."""

    job: str
    batch_id: str
    status: str
    ended: dt.datetime
    duration_s: float
    rows_in: int
    rows_out: int
    rows_quarantined: int
    dq_score: float | None
    engine: str


@dataclass(frozen=True)
class Freshness:
    """A table's freshness in the report: its last commit, minutes since, and its SLO."""

    table: str
    last_commit: dt.datetime
    minutes: float
    slo_minutes: int

    @property
    def breached(self) -> bool:
        return self.minutes > self.slo_minutes


@dataclass
class ReportData:
    """Everything the HTML report shows, read from the lake's run summaries, quarantine and DQ tables."""

    lake_root: str
    generated: dt.datetime
    runs: list[Run] = field(default_factory=list)
    """Job totals (run summary ``'*'`` rows) of every layer, oldest first."""
    quarantine: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(layer, reason, status) -> records, for quarantined and held (not released) records."""
    freshness: list[Freshness] = field(default_factory=list)

    @property
    def batches(self) -> list[str]:
        """Batches that ran a layer job, oldest first (maintenance-only batches are not charted)."""
        seen: dict[str, dt.datetime] = {}
        for r in self.runs:
            if r.job in LAYERS:
                seen[r.batch_id] = max(seen.get(r.batch_id, r.ended), r.ended)
        return sorted(seen, key=lambda b: (seen[b], b))


# --- reading the lake ------------------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_RUN_COLUMNS = ["job", "batch_id", "table_name", "status", "ended_ts", "duration_s", "rows_in", "rows_out"]
_RUN_COLUMNS += ["rows_quarantined", "dq_score", "engine"]


def _runs(loc: LakeLocations) -> list[Run]:
    """Every job run of the lake's run summaries (their ``*`` rows), layer by layer."""
    runs = []
    for layer in LAYERS:
        runs += [
            Run(
                job=row["job"],
                batch_id=row["batch_id"],
                status=row["status"],
                ended=_utc(row["ended_ts"]),
                duration_s=float(row["duration_s"]),
                rows_in=int(row["rows_in"]),
                rows_out=int(row["rows_out"]),
                rows_quarantined=int(row["rows_quarantined"]),
                dq_score=row["dq_score"],
                engine=row["engine"],
            )
            for row in READER.rows(loc.table_uri(f"{layer}.run_summary"), _RUN_COLUMNS)
            if row["table_name"] == "*"
        ]
    return runs


def _quarantine(loc: LakeLocations) -> dict[tuple[str, str, str], int]:
    """Records in quarantine (released ones left out) by (layer, reason, status), sorted."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for layer in LAYERS:
        for row in READER.rows(loc.table_uri(f"{layer}.quarantine"), ["_error", "_status"]):
            if row["_status"] != "released":
                counts[(layer, row["_error"], row["_status"])] += 1
    return dict(sorted(counts.items()))


def _freshness(loc: LakeLocations, now: dt.datetime) -> list[Freshness]:
    """Minutes since the last commit of each silver and gold table with a freshness SLO that exists."""
    found = []
    for c in (*SILVER_TABLES, *GOLD_TABLES):
        history = READER.history(loc.table_uri(c.name), 1) if c.freshness_slo_minutes is not None else []
        if not history:
            continue
        committed = dt.datetime.fromtimestamp(history[0]["timestamp"] / 1000, dt.UTC)
        minutes = max(0.0, (now - committed).total_seconds() / 60)
        found.append(Freshness(c.name, committed, round(minutes, 1), c.freshness_slo_minutes))
    return found


def load(root: Path, *, now: dt.datetime | None = None) -> ReportData:
    """Everything the report shows, read from the lake under ``root``."""
    if not (root / "landing").is_dir() and not any((root / layer).is_dir() for layer in LAYERS):
        raise ReportError(f"{root} is not a lake (no landing/, bronze/, silver/ or gold/ folder)")
    now = now or dt.datetime.now(dt.UTC)
    loc = LakeLocations.for_root(str(root))
    data = ReportData(lake_root=str(root), generated=now)
    data.runs = _runs(loc)
    if not data.runs:
        raise ReportError(f"no runs in {root} yet: run `lakehouse run --lake-root {root}` first")
    data.runs.sort(key=lambda r: (r.ended, JOBS.index(r.job) if r.job in JOBS else len(JOBS)))
    data.quarantine = _quarantine(loc)
    data.freshness = _freshness(loc, now)
    return data


# --- SVG charts -----------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value != int(value) else f"{int(value)}"


def _axis(y_max: float, *, y_min: float = 0.0, ticks: int = 4) -> list[str]:
    parts = []
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(ticks + 1):
        value = y_min + (y_max - y_min) * i / ticks
        y = TOP + plot_h - plot_h * i / ticks
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_fmt(value))}</text>')
    return parts


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<span class="key"><i style="background:{COLORS.get(n, "#555")}"></i>{_e(n)}</span>' for n in names
    )
    return f'<div class="legend">{items}</div>'


def _svg(chart_id: str, title: str, body: Sequence[str]) -> str:
    return (
        f'<svg class="chart" id="{_e(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


def grouped_bars(
    chart_id: str, title: str, categories: Sequence[str], series: Mapping[str, Sequence[float | None]], unit: str
) -> str:
    """Vertical bars: one group per category, one bar per series (``None``: no bar)."""
    values = [v for vs in series.values() for v in vs if v is not None]
    y_max = _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    body = _axis(y_max)
    for i, category in enumerate(categories):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, (name, vs) in enumerate(series.items()):
            v = vs[i]
            if v is None:
                continue
            h = plot_h * v / y_max
            body.append(
                f'<rect class="mark" x="{x0 + j * bar_w:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{COLORS.get(name, "#555")}">'
                f"<title>{_e(category)} {_e(name)}: {_e(_fmt(v))} {_e(unit)}</title></rect>"
            )
        body.append(
            f'<text class="tick" x="{x0 + group_w * 0.4:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{_e(_short_batch(category))}</text>"
        )
    return _svg(chart_id, title, body) + _legend(list(series))


def horizontal_bars(
    chart_id: str, title: str, items: Sequence[tuple[str, float, str]], unit: str, *, marker: str = ""
) -> str:
    """One bar per (label, value, series) item, in the given order; ``marker`` is a note printed under the chart."""
    height = TOP + BOTTOM // 2 + 22 * max(len(items), 1)
    x_max = _nice_max(max((v for _, v, _ in items), default=0))
    # about 6.5 px per character of an 11 px label; the bars get the rest
    label_w = int(min(WIDTH * 0.55, 16 + 6.5 * max((len(label) for label, _, _ in items), default=10)))
    plot_w = WIDTH - label_w - RIGHT - 60
    body = []
    for i, (label, value, series) in enumerate(items):
        y = TOP + i * 22
        w = plot_w * value / x_max
        body.append(f'<text class="tick" x="{label_w - 8}" y="{y + 14}" text-anchor="end">{_e(label)}</text>')
        body.append(
            f'<rect class="mark" x="{label_w}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="15" '
            f'fill="{COLORS.get(series, "#555")}"><title>{_e(label)}: {_e(_fmt(value))} {_e(unit)}</title></rect>'
        )
        body.append(f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 14}">{_e(_fmt(value))}</text>')
    svg = (
        f'<svg class="chart" id="{_e(chart_id)}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )
    return svg + (f'<p class="note">{_e(marker)}</p>' if marker else "")


def lines(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_min: float,
    y_max: float,
    threshold: tuple[str, float] | None = None,
) -> str:
    """One line per series over the categories (a point per value; gaps where ``None``)."""
    inset = 36  # room for the first and last category labels
    plot_w, plot_h = WIDTH - LEFT - RIGHT - 2 * inset, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(categories) - 1, 1)
    x0 = LEFT + inset

    def y_of(v: float) -> float:
        return TOP + plot_h - plot_h * (v - y_min) / (y_max - y_min)

    body = _axis(y_max, y_min=y_min)
    if threshold is not None:
        label, value = threshold
        y = y_of(value)
        body.append(f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{y - 4:.1f}" text-anchor="end">{_e(label)}</text>')
    for name, vs in series.items():
        points = [(x0 + i * step, y_of(v), v, categories[i]) for i, v in enumerate(vs) if v is not None]
        color = COLORS.get(name, "#555")
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, v, category in points:
            body.append(
                f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}">'
                f"<title>{_e(category)} {_e(name)}: {v:.4f}</title></circle>"
            )
    for i, category in enumerate(categories):
        body.append(
            f'<text class="tick" x="{x0 + i * step:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{_e(_short_batch(category))}</text>"
        )
    return _svg(chart_id, title, body) + _legend(list(series))


def _short_batch(batch: str) -> str:
    """``b20261122T031500123456Z`` -> ``11-22 03:15`` (the axis has room for little)."""
    if len(batch) >= 14 and batch.startswith("b") and batch[9] == "T":
        return f"{batch[5:7]}-{batch[7:9]} {batch[10:12]}:{batch[12:14]}"
    return batch[:12]


# --- the page --------------------------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:980px;color:#1d2329}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:32px;border-bottom:1px solid #dde3e8}
.meta{color:#5f6b76} table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #eef1f4;text-align:right} th:first-child,td:first-child{text-align:left}
td.text{text-align:left} .bad{color:#c0392b;font-weight:600} .ok{color:#2e7d32}
svg.chart{display:block;max-width:100%;height:auto;background:#fbfcfd;border:1px solid #eef1f4}
.grid{stroke:#e3e8ed} .threshold{stroke:#c0392b;stroke-dasharray:5 4} .tick{font-size:11px;fill:#5f6b76}
.value{font-size:11px;fill:#1d2329} .legend{margin:6px 0 0} .key{margin-right:14px;font-size:12px}
.key i{display:inline-block;width:10px;height:10px;margin-right:5px;vertical-align:middle}
.note{color:#5f6b76;font-size:12px}
"""


def _runs_table(runs: Sequence[Run]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("job", "batch", "status", "ended (UTC)", "in", "out", "quarantined", "DQ score", "seconds")
    )
    rows = []
    for r in reversed(runs[-MAX_RUNS_LISTED:]):
        status = f'<span class="{"ok" if r.status == "succeeded" else "bad"}">{_e(r.status)}</span>'
        dq = "" if r.dq_score is None else f"{r.dq_score:.4f}"
        rows.append(
            f'<tr><td>{_e(r.job)}</td><td class="text">{_e(r.batch_id)}</td><td class="text">{status}</td>'
            f'<td class="text">{r.ended:%Y-%m-%d %H:%M:%S}</td><td>{r.rows_in:,}</td><td>{r.rows_out:,}</td>'
            f"<td>{r.rows_quarantined:,}</td><td>{dq}</td><td>{r.duration_s:,.1f}</td></tr>"
        )
    return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _by_batch(data: ReportData, batches: Sequence[str], value: str) -> dict[str, list[float | None]]:
    found: dict[tuple[str, str], float | None] = {}
    for r in data.runs:
        if r.batch_id in batches and r.status == "succeeded":
            found[(r.job, r.batch_id)] = getattr(r, value)
    jobs = [j for j in LAYERS if any((j, b) in found for b in batches)]
    return {j: [found.get((j, b)) for b in batches] for j in jobs}


def _records_section(data: ReportData, batches: Sequence[str]) -> str:
    return (
        "<h2>Records per layer</h2>"
        + grouped_bars(
            "records-per-layer",
            "Records written per layer and run",
            batches,
            _by_batch(data, batches, "rows_out"),
            "records",
        )
        + '<p class="note">Records each job wrote per run (inserted, updated or deleted rows).</p>'
    )


def _quarantine_section(data: ReportData) -> str:
    quarantine = sorted(
        ((f"{layer}: {reason} ({status})", float(n), status) for (layer, reason, status), n in data.quarantine.items()),
        key=lambda item: -item[1],
    )
    return (
        "<h2>Quarantine by reason</h2>"
        + (
            horizontal_bars("quarantine-by-reason", "Records in quarantine by reason", quarantine, "records")
            if quarantine
            else '<p class="note" id="quarantine-by-reason">No record is in quarantine.</p>'
        )
        + '<p class="note">Held records are orphans re-checked every run; released ones are not counted.</p>'
    )


def _dq_section(data: ReportData, batches: Sequence[str]) -> str:
    """Each job's DQ score across runs, with the dq_score alarm's local threshold as a line."""
    dq_rule = catalog.metric("dq_score").alarm
    dq_threshold = dq_rule.threshold_for("local") if dq_rule else None
    scores = {j: vs for j, vs in _by_batch(data, batches, "dq_score").items() if any(v is not None for v in vs)}
    low = min((v for vs in scores.values() for v in vs if v is not None), default=1.0)
    y_min = max(0.0, math.floor(min(low, dq_threshold or 1.0) * 20) / 20 - 0.05)
    return "<h2>DQ score across runs</h2>" + lines(
        "dq-score-trend",
        "Share of rule checks passed per job and run",
        batches,
        scores,
        y_min=y_min,
        y_max=1.0,
        threshold=(f"alarm {dq_threshold:g}", dq_threshold) if dq_threshold is not None else None,
    )


def _freshness_section(data: ReportData) -> str:
    fresh_items = [
        (f"{f.table} (SLO {f.slo_minutes:,} min)", f.minutes, "past SLO" if f.breached else "within SLO")
        for f in data.freshness
    ]
    if not fresh_items:
        return (
            '<h2>Freshness</h2><p class="note" id="freshness">'
            "No silver or gold table with a freshness SLO exists yet.</p>"
        )
    breached = [f for f in data.freshness if f.breached]
    marker = (
        f"{len(breached)} of {len(data.freshness)} tables are past their freshness SLO: "
        + ", ".join(f"{f.table} ({f.minutes:,.0f} > {f.slo_minutes} min)" for f in breached)
        if breached
        else f"All {len(data.freshness)} tables are within their freshness SLO."
    )
    return "<h2>Freshness</h2>" + horizontal_bars(
        "freshness", "Minutes since each table's last commit", fresh_items, "minutes", marker=marker
    )


def render(data: ReportData) -> str:
    """The whole page."""
    batches = data.batches[-MAX_RUNS_CHARTED:]
    sections = [
        f"<h2>Last runs</h2>{_runs_table(data.runs)}",
        _records_section(data, batches),
        _quarantine_section(data),
        _dq_section(data, batches),
        "<h2>Job durations</h2>"
        + grouped_bars(
            "job-durations", "Seconds per job and run", batches, _by_batch(data, batches, "duration_s"), "s"
        ),
        _freshness_section(data),
    ]
    last = data.runs[-1]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Lakehouse report: {_e(data.lake_root)}</title><style>{STYLE}</style></head><body>"
        f'<h1>Lakehouse run report</h1><p class="meta">Lake <code>{_e(data.lake_root)}</code> · generated '
        f"{data.generated:%Y-%m-%d %H:%M:%S} UTC · {len(data.runs)} job runs, last {_e(last.job)} "
        f"{_e(last.batch_id)} ({_e(last.status)}) · engine {_e(last.engine)}</p>"
        + "".join(sections)
        + "</body></html>\n"
    )


def write_report(root: Path, output: Path | None = None, *, now: dt.datetime | None = None) -> Path:
    """Render the report of the lake at ``root`` to ``output`` (default ``<root>/report.html``)."""
    target = output or root / "report.html"
    text = render(load(root, now=now))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


class Outline(HTMLParser):
    """What a rendered report holds: section titles, marks per chart, every src/href, scripts (for checks)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.marks: dict[str, int] = {}
        self.external: list[str] = []
        self.scripts = 0
        self._chart: str | None = None
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track the chart being read, count its marks, collect every src/href and script (HTMLParser callback)."""
        a = dict(attrs)
        if tag == "svg" and "chart" in (a.get("class") or ""):
            self._chart = a.get("id") or ""
            self.marks[self._chart] = 0
        if a.get("class") == "mark" and self._chart is not None:
            self.marks[self._chart] += 1
        self.external += [value for name, value in attrs if name in ("src", "href") and value]
        self.scripts += tag == "script"
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        """Leave the chart at its closing ``svg`` (HTMLParser callback)."""
        if tag == "svg":
            self._chart = None

    def handle_data(self, data: str) -> None:
        """Record a section heading's text (HTMLParser callback)."""
        if self._in_h2:
            self.sections.append(data)
            self._in_h2 = False


def outline(text: str) -> Outline:
    """The headings, sections and charts of a rendered report (the tests read the HTML with it)."""
    parsed = Outline()
    parsed.feed(text)
    return parsed
