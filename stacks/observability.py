"""Lakehouse-<env>-Observability: dashboards, catalog alarms on the jobs' figures, the composite health alarm,
and Logs Insights queries.

Everything here comes from the metric catalog (``job_assets/contracts/metrics.py``): the dashboards are the
bodies ``lakehouse dashboards export`` writes to ``dashboards/cloudwatch/`` (one renderer), the DQ-score and
cost alarms are catalog alarms, and ``<prefix>-pipeline-unhealthy`` is any of the catalog alarms marked
``in_pipeline_health``, whichever stack owns them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk.config import EnvironmentConfig
from cdk.constructs.catalog_alarm import CatalogAlarm, CatalogAlarmFactory
from job_assets.contracts import GOLD_TABLES, SILVER_TABLES, runbooks
from job_assets.contracts import metrics as catalog
from job_assets.contracts.layout import LAYERS
from platform_model import aws_names
from platform_model.dashboards import Targets, cloudwatch_body, cloudwatch_dashboard_name, dashboards

QUERIES = {
    "errors-by-job-run": (
        "Spark driver and executor lines at ERROR or with a stack trace, counted per log stream "
        "(the stream names the job run and the worker).",
        "fields @timestamp, @logStream, @message\n"
        "| filter @message like /ERROR|Exception|Traceback/\n"
        "| stats count(*) as errors, earliest(@message) as first_error by @logStream\n"
        "| sort errors desc\n"
        "| limit 50",
    ),
    "slowest-job-runs": (
        "The pipeline's stages are its jobs: each run's summary line (JSON) with its duration, slowest first.",
        "fields @timestamp, job, batch_id, status, duration_s, rows_in, rows_out, rows_quarantined\n"
        "| filter ispresent(duration_s) and ispresent(batch_id)\n"
        "| sort duration_s desc\n"
        "| limit 50",
    ),
    "quarantine-reasons": (
        "Records quarantined per job and reason, from the jobs' quarantine lines (JSON).",
        'fields job, reason, records\n| filter event = "quarantined"\n'
        "| stats sum(records) as quarantined by job, reason\n| sort quarantined desc",
    ),
    "lambda-cold-starts": (
        "Operational Lambdas: invocations, cold starts and init time per hour (REPORT lines).",
        'filter @type = "REPORT"\n'
        "| stats count(*) as invocations, sum(ispresent(@initDuration)) as cold_starts,\n"
        "  avg(@initDuration) as avg_init_ms, max(@initDuration) as max_init_ms by bin(1h)\n"
        "| sort bin(1h) desc",
    ),
}


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        alert_topic: sns.ITopic,
        health_alarms: Sequence[CatalogAlarm],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alarm_factory = CatalogAlarmFactory(
            environment=config.name, topic=alert_topic, runbook_base_url=config.ops.runbook_base_url
        )
        targets = Targets.from_config(config)
        self.dashboards = {
            board.key: cloudwatch.CfnDashboard(
                self,
                f"{board.key.capitalize()}Dashboard",
                dashboard_name=cloudwatch_dashboard_name(board, targets),
                dashboard_body=json.dumps(cloudwatch_body(board, targets), sort_keys=True),
            )
            for board in dashboards(targets)
        }
        self.alarms: list[CatalogAlarm] = [*self._dq_score_alarms(config), *self._cost_alarms(config)]
        self.health_members = self._health_members(health_alarms)
        self.pipeline_unhealthy = self._pipeline_unhealthy(config, alert_topic, self.health_members)
        self.queries = self._queries(targets)

    def _dq_score_alarms(self, config: EnvironmentConfig) -> list[CatalogAlarm]:
        """One DQ-score alarm per silver and gold table that has rules (no checks, no score)."""
        return [
            self.alarm_factory.alarm(
                self,
                f"DqScore{''.join(p.capitalize() for p in contract.name.replace('.', '_').split('_'))}",
                metric_key="dq_score",
                name=f"{config.prefix}-dq-{contract.name.replace('.', '-').replace('_', '-')}",
                subject=contract.name,
                dimensions={
                    catalog.ENVIRONMENT: config.name,
                    catalog.JOB: contract.name.split(".", 1)[0],
                    catalog.TABLE: contract.name,
                },
            )
            for contract in (*SILVER_TABLES, *GOLD_TABLES)
            if contract.rules
        ]

    def _cost_alarms(self, config: EnvironmentConfig) -> list[CatalogAlarm]:
        """One cost-per-million-records alarm per layer's job."""
        return [
            self.alarm_factory.alarm(
                self,
                f"CostPerMillion{job.capitalize()}",
                metric_key="cost_per_million_records",
                name=f"{config.prefix}-cost-per-million-{job}",
                subject=f"the {job} job",
                dimensions={catalog.ENVIRONMENT: config.name, catalog.JOB: job},
            )
            for job in LAYERS
        ]

    def _health_members(self, health_alarms: Sequence[CatalogAlarm]) -> list[cloudwatch.IAlarm]:
        """The pipeline-health alarms: those of ``health_alarms`` and of this stack marked ``in_pipeline_health``."""
        # Members of other stacks by their deterministic ARNs, not by cross-stack exports: an export in use
        # would block the owning stack from ever removing or renaming an alarm (a table dropped, say).
        members: list[cloudwatch.IAlarm] = [
            cloudwatch.Alarm.from_alarm_arn(
                self,
                f"Member{a.name}",
                self.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=a.name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
            )
            for a in health_alarms
            if a.in_pipeline_health
        ]
        members += [a for a in self.alarms if a.in_pipeline_health]
        return members

    def _pipeline_unhealthy(
        self, config: EnvironmentConfig, alert_topic: sns.ITopic, members: Sequence[cloudwatch.IAlarm]
    ) -> cloudwatch.CompositeAlarm:
        """``<prefix>-pipeline-unhealthy``: any of ``members`` in ALARM; notifies ``alert_topic`` on ALARM and OK."""
        alarm = cloudwatch.CompositeAlarm(
            self,
            "PipelineUnhealthy",
            composite_alarm_name=f"{config.prefix}-pipeline-unhealthy",
            alarm_description=(
                f"The {config.prefix} pipeline is unhealthy: one of its {len(members)} health alarms (failed or "
                "timed-out runs, failed EMR jobs, stale tables, dead letters, low DQ scores) is in ALARM. "
                f"Runbook: {runbooks.runbook_url(config.ops.runbook_base_url, runbooks.PIPELINE_UNHEALTHY)}"
            ),
            alarm_rule=cloudwatch.AlarmRule.any_of(
                *(cloudwatch.AlarmRule.from_alarm(a, cloudwatch.AlarmState.ALARM) for a in members)
            ),
        )
        action = actions.SnsAction(alert_topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm

    def _queries(self, targets: Targets) -> dict[str, logs.CfnQueryDefinition]:
        emr = [f"/aws/emr-serverless/{targets.prefix}"]
        lambdas = [f"/aws/lambda/{name}" for name in targets.functions]
        groups = {
            "errors-by-job-run": emr,
            "slowest-job-runs": emr,
            "quarantine-reasons": emr,
            "lambda-cold-starts": lambdas,
        }
        return {
            name: logs.CfnQueryDefinition(
                self,
                "".join(part.capitalize() for part in name.split("-")) + "Query",
                name=f"{aws_names.prefix(targets.env, targets.project)}/{name}",
                query_string=f"# {description}\n{query}",
                log_group_names=groups[name],
            )
            for name, (description, query) in QUERIES.items()
        }
