"""Lambda entry point (``failure_notifier.handler.handler``), invoked by EventBridge: see ``notifier.py``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops_common.tracing import annotate, init_tracing, traced_handler

from .aws_repositories import aws_repositories
from .notifier import NotifierSettings, notify_failure

init_tracing()

_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_APPLICATION_ID = re.compile(r"^[0-9a-z]{1,64}$")


class SettingsError(ValueError):
    """An environment variable is missing or invalid (the message names it)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The function's environment variables, checked (:meth:`from_env`)."""

    environment: str
    """``ENVIRONMENT``: dev, staging or prod (named in every alert)"""
    alert_topic_arn: str
    """``ALERT_TOPIC_ARN``: the SNS topic alerts are published to"""
    runbook_base_url: str
    """``RUNBOOK_BASE_URL``: where the runbook files live (``<base>/<file>.md``)"""
    log_group: str
    """``LOG_GROUP``: the EMR Serverless application's CloudWatch log group (linked for a job run)"""
    application_id: str | None = None
    """``APPLICATION_ID`` (optional): job runs of any other EMR Serverless application are ignored"""
    project: str = "lakehouse"
    """``PROJECT`` (optional): the subject tag is ``[<project>-<environment>]``"""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check the variables; :class:`SettingsError` names the first missing or invalid one."""
        environment = _required(environ, "ENVIRONMENT")
        topic = _required(environ, "ALERT_TOPIC_ARN")
        if not _SNS_TOPIC_ARN.match(topic):
            raise SettingsError(f"environment variable ALERT_TOPIC_ARN is not an SNS topic ARN: {topic!r}")
        base = _required(environ, "RUNBOOK_BASE_URL")
        if not base.startswith(("https://", "http://")):
            raise SettingsError(f"environment variable RUNBOOK_BASE_URL is not an http(s) URL: {base!r}")
        log_group = _required(environ, "LOG_GROUP")
        application_id = environ.get("APPLICATION_ID", "").strip() or None
        if application_id is not None and not _APPLICATION_ID.match(application_id):
            raise SettingsError(
                f"environment variable APPLICATION_ID is not an EMR Serverless application id: {application_id!r}"
            )
        project = environ.get("PROJECT", "").strip() or "lakehouse"
        return cls(
            environment=environment,
            alert_topic_arn=topic,
            runbook_base_url=base,
            log_group=log_group,
            application_id=application_id,
            project=project,
        )

    def notifier(self, default_region: str) -> NotifierSettings:
        """What the notifier needs; ``default_region`` is used when an event names no region."""
        return NotifierSettings(
            environment=self.environment,
            topic_arn=self.alert_topic_arn,
            runbook_base_url=self.runbook_base_url,
            log_group=self.log_group,
            application_id=self.application_id,
            project=self.project,
            default_region=default_region,
        )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is missing or empty")
    return value


@traced_handler("failure-notifier")
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Notify the failure in ``event`` through the AWS repositories; what was done, without the message."""
    settings = Settings.from_env(os.environ)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    notifier_settings = settings.notifier(region)
    result = notify_failure(event, notifier_settings, repositories=aws_repositories(notifier_settings.topic_arn))
    annotate(published=bool(result.get("published")), incident=str(result.get("incident") or result.get("reason")))
    return {k: v for k, v in result.items() if k != "message"}
