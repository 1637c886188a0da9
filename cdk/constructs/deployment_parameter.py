"""DeploymentParameter: how the state machines run a job, published for ``lakehouse promote``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk.constructs.release_slots import SLOT_PLACEHOLDER, VERSION_PLACEHOLDER


@dataclass(frozen=True, kw_only=True)
class DeploymentParameterProps:
    parameter_name: str
    """``platform_model.aws_names.deployment_parameter_name(env)``: the CLI addresses it by this name."""
    prefix: str
    """``lakehouse-<env>``, for the description."""
    version: str
    """The job-assets version this deploy ships."""
    application_id: str
    artifacts_uri: str
    """``s3://<artifacts>/jobs/``: release ``v`` lives under ``<artifacts_uri>v/``."""
    gold_uri: str
    """``s3://<gold-bucket>/``: slot ``s`` keeps its gold under ``<gold_uri>s/``."""
    job_role_arns: Mapping[str, str]
    arguments: Sequence[str]
    """The arguments every job gets, except ``--gold-uri`` (it depends on the slot) and ``--batch-id``."""
    spark_submit_parameters: str
    """With ``{version}`` where the job-assets version goes."""
    job_sizing: Mapping[str, str]
    """Per job the CLI starts itself (the promotion audit runs gold), its Spark sizing (``cdk.spark_sizing``)
    as ``SparkSubmitParameters``, appended to ``spark_submit_parameters``; the state machines carry every
    job's in their own definitions. Only those jobs: a standard parameter holds 4 KB."""


class DeploymentParameter(Construct):
    """A String parameter, rewritten by every deploy, JSON (``platform_model.aws_names.deployment_parameter_name``)::

        {"version": ..., "application_id": ..., "artifacts_uri": ..., "gold_uri": ...,
         "job_role_arns": {"bronze": ..., "gold": ..., ...}, "arguments": [...],
         "spark_submit_parameters": "--conf spark.submit.pyFiles=s3://<artifacts>/jobs/{version}/job_assets.zip",
         "job_sizing": {"gold": "--conf spark.driver.cores=4 ..."}}

    A job run started from it is the job run the state machines start: entry point
    ``<artifacts_uri><version>/entrypoints/<job>.py``, arguments ``arguments`` plus
    ``--gold-uri <gold_uri><slot>/`` and ``--batch-id``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: DeploymentParameterProps) -> None:
        super().__init__(scope, construct_id)
        if VERSION_PLACEHOLDER not in props.spark_submit_parameters:
            raise ValueError(f"spark_submit_parameters must hold the placeholder {VERSION_PLACEHOLDER}")
        for argument in props.arguments:
            if argument == "--gold-uri" or SLOT_PLACEHOLDER in argument or VERSION_PLACEHOLDER in argument:
                raise ValueError(f"arguments must not depend on the slot or version, got {argument!r}")
        self.document = {
            "version": props.version,
            "application_id": props.application_id,
            "artifacts_uri": props.artifacts_uri,
            "gold_uri": props.gold_uri,
            "job_role_arns": dict(props.job_role_arns),
            "arguments": list(props.arguments),
            "spark_submit_parameters": props.spark_submit_parameters,
            "job_sizing": dict(props.job_sizing),
        }
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=props.parameter_name,
            description=f"{props.prefix}: how the state machines run a job (job-assets version {props.version}).",
            # to_json_string: the bucket names, role ARNs and application id resolve at deploy time.
            string_value=Stack.of(self).to_json_string(self.document),
            tier=ssm.ParameterTier.STANDARD,
        )
        self.parameter_arn = self.parameter.parameter_arn
