"""What the guardrail commands share (``lakehouse kms|budget|capacity|credentials|backup``, ``landing
rejected``): the deployed environment they address, AWS errors as one line, the confirmation of a change."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from rich.console import Console

from platform_model import aws_names

Confirm = Callable[[str], bool]
"""Asked before a change: ``confirm(question) -> yes?``."""


class GuardError(Exception):
    """Something the operator must fix (bad input, no credentials, an environment not deployed): one line."""


def aws_error(error: Exception, env: str, what: str) -> GuardError:
    """``error`` of an AWS call as one line naming the environment and what was asked."""
    if isinstance(error, NoCredentialsError):
        return GuardError(f"--env {env}: no AWS credentials for {what} (set AWS_PROFILE or the AWS_* variables)")
    if isinstance(error, NoRegionError):
        return GuardError(f"--env {env}: no AWS region for {what}: pass --region or set AWS_REGION")
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return GuardError(f"--env {env}: {what}: {info.get('Code', 'error')}: {info.get('Message', str(error))}")
    return GuardError(f"--env {env}: {what}: {error}")


@dataclass
class Deployed:
    """One deployed environment: its name, project and region, and a boto3 session there."""

    env: str
    project: str = aws_names.DEFAULT_PROJECT
    region: str | None = None
    session: Any = None
    _account: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.env or "/" in self.env:
            raise GuardError(f"--env {self.env!r}: not an environment name like dev")
        if self.session is None:
            try:
                self.session = boto3.session.Session(region_name=self.region)
            except BotoCoreError as error:
                raise GuardError(f"--env {self.env}: AWS configuration: {error}") from error

    @property
    def prefix(self) -> str:
        return aws_names.prefix(self.env, self.project)

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of ``service`` in the environment's region (or ``region``)."""
        try:
            return self.session.client(service, region_name=region or self.session.region_name)
        except (BotoCoreError, ValueError) as error:
            raise aws_error(error, self.env, f"a {service} client") from error

    @property
    def alert_topic_arn(self) -> str:
        """The ARN of the environment's alert topic (the Alerting stack's)."""
        name = aws_names.alert_topic_name(self.env, self.project)
        return f"arn:aws:sns:{self.session.region_name}:{self.account}:{name}"

    @property
    def account(self) -> str:
        """The account id of the credentials (STS), asked once."""
        if not self._account:
            try:
                self._account = self.client("sts").get_caller_identity()["Account"]
            except (BotoCoreError, ClientError) as error:
                raise aws_error(error, self.env, "GetCallerIdentity") from error
        return self._account


def confirmer(yes: bool, console: Console, what: str) -> Confirm:
    """The confirmation of a change: yes with ``--yes``, else asked at a terminal; refused elsewhere."""

    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise GuardError(f"{what}: not at a terminal: pass --yes to confirm; nothing changed")
        return console.input(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    return confirm


def when(value: Any) -> str:
    """A timestamp of an AWS answer as ``YYYY-MM-DD HH:MM`` UTC ('' when absent)."""
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    return ""
