"""``lakehouse budget status``: the monthly budget against this month's spend (runbooks/budget-exceeded.md).

The budget is the Alerting stack's (named by :func:`platform_model.aws_names.budget_name`, whose name carries
the runbook: AWS Budgets' notifications have no other text of ours). The per-job figures are the cost
reporter's ``JobCostUSD`` (metric catalog ``job_cost_usd``) summed since the first of the month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from job_assets.contracts import metrics as catalog
from job_assets.contracts import runbooks
from job_assets.contracts.layout import JOBS
from platform_model import aws_names

from .guard import Deployed, GuardError, aws_error


@dataclass(frozen=True, kw_only=True)
class BudgetFigures:
    """The budget's limit and this period's actual and forecasted spend (USD), and its notifications."""

    name: str
    limit: float
    actual: float
    forecast: float | None
    notifications: tuple[str, ...]

    @property
    def exceeded(self) -> bool:
        return self.actual > self.limit


def _amount(spend: dict[str, Any] | None) -> float | None:
    return float(spend["Amount"]) if spend and spend.get("Amount") not in (None, "") else None


def figures(target: Deployed) -> BudgetFigures:
    """The environment's budget as AWS Budgets reports it; a missing budget is one line."""
    name = aws_names.budget_name(target.env, target.project)
    budgets = target.client("budgets", "us-east-1")  # the Budgets API is global, served from us-east-1
    try:
        budget = budgets.describe_budget(AccountId=target.account, BudgetName=name)["Budget"]
        notes = budgets.describe_notifications_for_budget(AccountId=target.account, BudgetName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotFoundException":
            raise GuardError(
                f"--env {target.env}: no budget {name!r} in account {target.account}: is the environment deployed "
                "(its Alerting stack)? (--project selects another)"
            ) from error
        raise aws_error(error, target.env, f"DescribeBudget {name}") from error
    except BotoCoreError as error:
        raise aws_error(error, target.env, f"DescribeBudget {name}") from error
    spend = budget.get("CalculatedSpend", {})
    notifications = tuple(
        f"{n['NotificationType']} > {float(n['Threshold']):g}"
        + ("%" if n.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE" else " USD")
        + (" (ALARM)" if n.get("NotificationState") == "ALARM" else "")
        for n in notes.get("Notifications", [])
    )
    return BudgetFigures(
        name=name,
        limit=_amount(budget.get("BudgetLimit")) or 0.0,
        actual=_amount(spend.get("ActualSpend")) or 0.0,
        forecast=_amount(spend.get("ForecastedSpend")),
        notifications=notifications,
    )


def job_costs(target: Deployed, now: dt.datetime | None = None) -> dict[str, float]:
    """USD per job since the first of the month (UTC), from the cost reporter's ``JobCostUSD``.

    CloudWatch counts whole seconds and refuses a window that ends where it starts: in the month's first second
    the window is that second.
    """
    now = now or dt.datetime.now(dt.UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = max(now, start + dt.timedelta(seconds=1))
    spec = catalog.metric("job_cost_usd")
    cloudwatch = target.client("cloudwatch")
    costs = {}
    for job in JOBS:
        try:
            points = cloudwatch.get_metric_statistics(
                Namespace=spec.namespace_for(target.env),
                MetricName=spec.name,
                Dimensions=[{"Name": catalog.ENVIRONMENT, "Value": target.env}, {"Name": catalog.JOB, "Value": job}],
                StartTime=start,
                EndTime=end,
                Period=86400,
                Statistics=["Sum"],
            )["Datapoints"]
        except (BotoCoreError, ClientError) as error:
            raise aws_error(error, target.env, f"GetMetricStatistics {spec.name}") from error
        costs[job] = sum(float(p["Sum"]) for p in points)
    return costs


def status(target: Deployed, *, console: Console) -> int:
    """Limit, actual, forecast and the jobs' share; 1 when the actual spend is over the limit."""
    f = figures(target)
    costs = job_costs(target)
    table = Table(title=f"budget {f.name}")
    table.add_column("figure")
    table.add_column("USD", justify="right")
    table.add_column("of the limit", justify="right")
    rows = [("limit", f.limit), ("actual this month", f.actual), ("forecast this month", f.forecast)]
    rows += [(f"job {job} (JobCostUSD, month to date)", cost) for job, cost in costs.items()]
    for label, value in rows:
        share = f"{100 * value / f.limit:.0f}%" if value is not None and f.limit else ""
        table.add_row(label, "n/a" if value is None else f"{value:,.2f}", share)
    console.print(table)
    console.print(f"notifications: {', '.join(f.notifications) or 'none'}")
    jobs = sum(costs.values())
    console.print(f"the jobs account for {jobs:,.2f} of {f.actual:,.2f} USD; the rest is the platform's fixed cost")
    if f.exceeded:
        console.print(
            f"[bold red]over budget[/]: {f.actual:,.2f} > {f.limit:,.2f} USD: "
            f"runbooks/{runbooks.runbook_file(runbooks.BUDGET_EXCEEDED)}"
        )
        return 1
    console.print(f"within budget ({f.actual:,.2f} of {f.limit:,.2f} USD)")
    return 0
