"""The two regions of an environment with a DR standby: :class:`DrSetup` (from the checkout's cdk.json) and
:class:`Site`, one region's deployment as its SSM deployment parameter describes it (buckets, application,
state machines), read through a boto3 session of that region."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_model import aws_names

REPO = Path(__file__).resolve().parents[2]
LAKE_BUCKETS = ("landing", "bronze", "silver", "gold")
"""The replicated buckets (``stacks.storage.REPLICATED_BUCKETS``): what failover runs on, failback copies."""


class DrError(Exception):
    """Bad input or a refusal: one line naming the environment and what is wrong; nothing was changed."""


@dataclass(frozen=True, kw_only=True)
class DrSetup:
    """An environment whose DR region holds a standby (``dr.standby`` in cdk.json)."""

    env: str
    project: str
    region: str
    dr_region: str
    schedule_enabled: bool
    """Whether the primary's schedules run (failback turns them back on only then)."""

    @classmethod
    def load(cls, env: str, *, project: str = aws_names.DEFAULT_PROJECT, repo: Path = REPO) -> DrSetup:
        """``env``'s regions from cdk.json; DrError for an unknown environment or one without a standby."""
        from ..checkout import CheckoutError, load_cdk_config

        try:
            _, config = load_cdk_config(repo)
        except CheckoutError as error:
            raise DrError(str(error)) from None
        if env not in config.environments:
            known = ", ".join(config.environments)
            raise DrError(f"--env {env}: unknown environment; expected one of {known}")
        c = config.environments[env]
        if not c.dr.standby:
            raise DrError(
                f"--env {env}: no DR standby is configured (dr.standby is false in cdk.json), so there is "
                "nothing to fail over to"
            )
        return cls(
            env=env, project=project, region=c.region, dr_region=c.dr_region, schedule_enabled=c.schedule.enabled
        )

    @property
    def prefix(self) -> str:
        """``lakehouse-<env>``."""
        return aws_names.prefix(self.env, self.project)


def session(region: str) -> Any:
    """A boto3 session of ``region`` (credentials as boto3 finds them)."""
    import boto3

    return boto3.session.Session(region_name=region)


def bucket_of(uri: str) -> str:
    """``s3://bucket/prefix`` -> ``bucket``."""
    return uri.split("://", 1)[1].split("/", 1)[0]


@dataclass
class Site:
    """One region of the environment, as its deployment parameter there describes it."""

    setup: DrSetup
    region: str
    session: Any
    deployment: Mapping[str, Any]
    _clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, setup: DrSetup, region: str) -> Site:
        """Read ``region``'s deployment parameter; DrError when it is missing or unreadable there."""
        s = session(region)
        name = aws_names.deployment_parameter_name(setup.env, setup.project)
        try:
            value = s.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
            document = json.loads(value)
            missing = [k for k in ("arguments", "artifacts_uri", "gold_uri", "application_id") if k not in document]
            if missing:
                raise KeyError(f"not a deployment document (no {missing[0]})")
        except Exception as error:  # unreachable region, no parameter, not a deployment document
            raise DrError(f"--env {setup.env}: cannot read SSM parameter {name} in {region}: {error}") from None
        return cls(setup=setup, region=region, session=s, deployment=document)

    def client(self, service: str) -> Any:
        """A boto3 client of this region, one per service."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def bucket(self, layer: str) -> str:
        """The bucket of ``layer`` (landing, bronze, silver, gold, artifacts) in this region."""
        if layer == "gold":
            return bucket_of(str(self.deployment["gold_uri"]))
        if layer == "artifacts":
            return bucket_of(str(self.deployment["artifacts_uri"]))
        arguments = list(self.deployment["arguments"])
        return bucket_of(arguments[arguments.index(f"--{layer}-uri") + 1])

    def state_machine_arn(self, machine: str = "pipeline") -> str:
        """The ARN of this region's ``pipeline`` or ``maintenance`` state machine (same names in both regions)."""
        name = (
            aws_names.pipeline_state_machine_name(self.setup.env, self.setup.project)
            if machine == "pipeline"
            else aws_names.maintenance_state_machine_name(self.setup.env, self.setup.project)
        )
        account = self.client("sts").get_caller_identity()["Account"]
        partition = self.session.get_partition_for_region(self.region)
        return f"arn:{partition}:states:{self.region}:{account}:stateMachine:{name}"

    def read_parameter(self, name: str) -> str | None:
        """The value of SSM parameter ``name`` here, or None when there is none."""
        ssm = self.client("ssm")
        try:
            return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            return None

    def write_parameter(self, name: str, value: str, description: str) -> None:
        """Create or overwrite SSM String parameter ``name`` here."""
        self.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True, Description=description)


def open_primary(setup: DrSetup) -> tuple[Site | None, str]:
    """The primary region's site, or None and why it cannot be reached (a region outage looks like this)."""
    try:
        site = Site.open(setup, setup.region)
        site.client("s3").head_bucket(Bucket=site.bucket("landing"))
    except DrError as error:
        return None, str(error)
    except Exception as error:  # endpoint down, access denied, bucket gone
        return None, f"--env {setup.env}: the primary's landing bucket in {setup.region} is unreachable: {error}"
    return site, ""
