"""The estimate as a rich table, as JSON, and as the comparison at 1M, 10M and 100M records a day that
docs/guides/COST_OPTIMIZATION.md embeds (``python -m lakehouse.cost.report`` rewrites the guide's tables;
a unit test fails when they differ from what the command prints)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .data import Measured, PriceTable
from .model import TB, Estimate
from .settings import REPO, EnvSettings

COMPARE_SIZES = (1_000_000, 10_000_000, 100_000_000)
GUIDE = REPO / "docs" / "guides" / "COST_OPTIMIZATION.md"
GUIDE_ENVS = ("dev", "prod")


def usd(value: float) -> str:
    """``$1,234.56``."""
    return f"${value:,.2f}"


def warnings(e: Estimate, env: EnvSettings) -> list[str]:
    """What the estimate shows the environment cannot do as configured."""
    late = e.facts["emr_run"]["over_job_timeout"]
    return [
        f"{job} job: {e.facts['emr_run']['jobs'][job]['seconds'] / 60:,.0f} min at the maximum capacity, over "
        f"emr.job_timeout_minutes ({env.job_timeout_minutes}): raise max_vcpu/max_memory_gb or the timeout"
        for job in late
    ]


def to_json(e: Estimate, env: EnvSettings, prices: PriceTable, measured: Measured) -> dict[str, Any]:
    """The estimate as JSON: components with their lines, totals, unit costs, EMR run shape, warnings."""
    run = e.facts["emr_run"]
    return {
        "env": e.env,
        "region": e.region,
        "dr_region": e.dr_region,
        "records_per_day": e.records_per_day,
        "history_days": e.history_days,
        "prices_as_of": prices.as_of,
        "measured_as_of": measured.raw["as_of"],
        "components": [
            {
                "name": c.name,
                "usd": round(c.usd, 2),
                "lines": [
                    {
                        "item": line.item,
                        "quantity": round(line.quantity, 4),
                        "unit": line.unit,
                        "price": line.price,
                        "unit_usd": line.unit_usd,
                        "usd": round(line.usd, 2),
                    }
                    for line in c.lines
                ],
            }
            for c in e.components
        ],
        "total_usd": round(e.total, 2),
        "records_per_month": round(e.records_per_month),
        "tb_processed_per_month": round(e.landing_bytes_per_month / TB, 6),
        "per_million_records_usd": round(e.per_million_records, 4),
        "per_tb_processed_usd": round(e.per_tb_processed, 2),
        "emr_run": {
            "jobs": {job: {k: round(v, 1) for k, v in j.items()} for job, j in run["jobs"].items()},
        },
        "warnings": warnings(e, env),
        "unverified_prices": prices.unverified((e.region, e.dr_region)),
    }


def print_table(e: Estimate, env: EnvSettings, prices: PriceTable, console: Console) -> None:
    """Components and their lines, the total, cost per million records and per TB processed."""
    t = Table(title=f"{e.env} ({e.region}): {e.records_per_day:,} records a day, {e.history_days} days of history")
    for name, justify in (("component", "left"), ("item", "left"), ("quantity", "right"), ("USD / month", "right")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in e.components:
        t.add_row(f"[bold]{c.name}[/]", "", "", f"[bold]{usd(c.usd)}[/]")
        for line in c.lines:
            t.add_row("", line.item, f"{line.quantity:,.2f} {line.unit}", usd(line.usd))
    t.add_section()
    t.add_row("[bold]total[/]", "", "", f"[bold]{usd(e.total)}[/]")
    t.add_row("per million records", "", f"{e.records_per_month / 1e6:,.1f} M records", usd(e.per_million_records))
    t.add_row("per TB processed", "", f"{e.landing_bytes_per_month / TB:,.4f} TB", usd(e.per_tb_processed))
    console.print(t)
    for warning in warnings(e, env):
        console.print(f"[yellow]warning:[/] {warning}")
    unverified = prices.unverified((e.region, e.dr_region))
    console.print(
        f"Prices as of {prices.as_of}; {len(unverified)} not verified against their source page "
        "(lakehouse/cost/prices.json, --json lists them)."
    )


def compare_markdown(estimates: list[Estimate]) -> str:
    """One Markdown table: a row per component, a column per size, then the total and the unit costs."""
    head = "| component | " + " | ".join(f"{e.records_per_day / 1e6:,.0f}M records/day" for e in estimates) + " |"
    rows = [head, "|---|" + "---:|" * len(estimates)]
    for index, component in enumerate(estimates[0].components):
        rows.append(f"| {component.name} | " + " | ".join(usd(e.components[index].usd) for e in estimates) + " |")
    rows.append("| **total per month** | " + " | ".join(f"**{usd(e.total)}**" for e in estimates) + " |")
    rows.append("| per million records | " + " | ".join(usd(e.per_million_records) for e in estimates) + " |")
    rows.append("| per TB processed | " + " | ".join(usd(e.per_tb_processed) for e in estimates) + " |")
    return "\n".join(rows) + "\n"


def _block(env: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- cost-estimate:{env}:begin -->\n).*?(<!-- cost-estimate:{env}:end -->)", re.DOTALL)


def guide_table(text: str, env: str) -> str:
    """The table the guide holds for ``env`` (between its ``cost-estimate`` markers)."""
    found = _block(env).search(text)
    return found.group(0).split("\n", 1)[1].rsplit("<!--", 1)[0] if found else ""


def write_guide(tables: dict[str, str], path: Path = GUIDE) -> None:
    """Replace each environment's table in the guide by ``tables[env]``."""
    text = path.read_text(encoding="utf-8")
    for env, table in tables.items():
        text = _block(env).sub(lambda m, t=table: m.group(1) + t + m.group(2), text)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    """Rewrite the guide's comparison tables from the command's own estimates."""
    from .components import estimate
    from .settings import load_settings

    tables = {}
    for env in GUIDE_ENVS:
        settings = load_settings(env)
        tables[env] = compare_markdown([estimate(settings, records_per_day=n) for n in COMPARE_SIZES])
    write_guide(tables)


if __name__ == "__main__":
    main()
