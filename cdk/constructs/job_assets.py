"""JobAssets: the packaged ``job_assets`` deployed to ``s3://<artifacts>/jobs/<version>/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from cdk.compliance import LAMBDA_DLQ, LAMBDA_IN_VPC, acknowledge
from cdk.constructs.private_network import FunctionNetwork
from cdk.packaging import ARCHIVE_NAME, DEPS_ALIAS, DEPS_ARCHIVE_NAME, EMR_DEPS_DIR, ENTRYPOINTS_DIR, bundle_job_assets

DEPLOYMENT_CONCURRENCY = 2
"""Reserved concurrency of the deployment handler: a deploy's copy (and a retry of it) at once, never more."""


@dataclass(frozen=True, kw_only=True)
class JobAssetsProps:
    package_dir: Path
    build_dir: Path
    bucket: s3.IBucket
    publisher_policy: iam.IManagedPolicy
    """Lets the deployment write under ``jobs/`` of ``bucket`` (published by the bucket's owner)."""
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    prefix: str = "jobs"
    deps_dir: Path = EMR_DEPS_DIR
    """The EMR dependency wheels ``make install`` downloaded: every release ships them as ``pydeps.zip``."""
    network: FunctionNetwork | None = None
    """The private subnets and security group the copy runs in (``None``: the environment has no network). The
    S3 gateway endpoint's policy admits the asset and artifacts buckets (this account's) and CloudFormation's
    response bucket (``EndpointScope.statements``)."""


@dataclass(frozen=True, kw_only=True)
class Releases:
    """The job-assets releases under ``releases_uri`` (``s3://<bucket>/jobs/``), wherever that bucket is: the
    artifacts bucket, or its replica in the DR region (the standby runs the replicated releases)."""

    releases_uri: str
    version: str
    """The default release (a deploy's own)."""

    def py_files_uri(self, version: str | None = None) -> str:
        """The archive of release ``version`` (default: :attr:`version`); ``version`` may be a placeholder."""
        return f"{self.releases_uri}{version or self.version}/{ARCHIVE_NAME}"

    def deps_uri(self, version: str | None = None) -> str:
        """The third-party modules of release ``version`` (``pydeps.zip``)."""
        return f"{self.releases_uri}{version or self.version}/{DEPS_ARCHIVE_NAME}"

    def spark_submit_parameters(self, version: str | None = None) -> str:
        """How a job run gets release ``version``'s Python code (``version`` may be a placeholder): the archive on
        ``spark.submit.pyFiles`` (nothing else: Delta's Python API is not used, docs/adr/0001) and the
        dependencies on ``spark.archives``, unpacked as ``pydeps/`` (docs/adr/0002)."""
        return (
            f"--conf spark.submit.pyFiles={self.py_files_uri(version)} "
            f"--conf spark.archives={self.deps_uri(version)}#{DEPS_ALIAS}"
        )

    def entrypoint_uri(self, job: str, version: str | None = None) -> str:
        """The entrypoint of ``job`` in release ``version`` (default: :attr:`version`)."""
        return f"{self.releases_uri}{version or self.version}/{ENTRYPOINTS_DIR}/{job}.py"


class JobAssets(Construct):
    """A content-addressed release of the Spark jobs; older versions stay for rollback (no prune).

    The copy runs in CDK's BucketDeployment Lambda, in the private network when the environment has one,
    under a role built here from managed policies only: read this one asset object, write ``jobs/`` in the
    artifacts bucket, write its own log group (and, in the network, attach to it).
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: JobAssetsProps) -> None:
        super().__init__(scope, construct_id)
        bundle = bundle_job_assets(props.package_dir, props.build_dir, deps_dir=props.deps_dir)
        self.version = bundle.version
        self.entrypoints = bundle.entrypoints
        self.bundle_dir = bundle.directory
        """What the deployment copies to ``jobs/<version>/`` (the asset's source folder)."""
        self.bucket = props.bucket
        self.prefix = props.prefix
        self.key_prefix = f"{props.prefix}/{bundle.version}/"

        asset = s3_assets.Asset(self, "Bundle", path=str(bundle.directory))
        log_group = logs.LogGroup(
            self,
            "DeploymentLogs",
            encryption_key=props.log_encryption_key,
            retention=props.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "DeploymentRole",
            description="Copies one job-assets release into the artifacts bucket.",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                props.publisher_policy,
                self._deployment_policy(asset, log_group),
                *([props.network.interfaces_policy] if props.network else []),
            ],
        )
        network = props.network
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[s3deploy.Source.bucket(asset.bucket, asset.s3_object_key)],
            destination_bucket=props.bucket,
            destination_key_prefix=self.key_prefix,
            prune=False,
            retain_on_delete=True,
            memory_limit=512,
            log_group=log_group,
            # What BucketDeployment would add to the role (inline grants; in a VPC, AWS's managed VPC policy) is
            # dropped: the managed policies above say everything it may do.
            role=role.without_policy_updates(),
            vpc=network.vpc if network else None,
            vpc_subnets=ec2.SubnetSelection(subnets=list(network.subnets)) if network else None,
            security_groups=[network.security_group] if network else None,
        )
        self._harden_handler(in_network=network is not None)

    def _deployment_policy(self, asset: s3_assets.Asset, log_group: logs.ILogGroup) -> iam.ManagedPolicy:
        """Read the asset object, write the log group."""
        return iam.ManagedPolicy(
            self,
            "DeploymentPolicy",
            description="Read the job-assets release asset; write the deployment's own log group.",
            statements=[
                iam.PolicyStatement(
                    sid="ReadReleaseAsset",
                    actions=["s3:GetObject"],
                    resources=[asset.bucket.arn_for_objects(asset.s3_object_key)],
                ),
                iam.PolicyStatement(
                    sid="WriteDeploymentLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )

    @property
    def releases_uri(self) -> str:
        """``s3://<artifacts>/jobs/``: release ``v`` (this one or any older one) lives under ``<releases_uri>v/``."""
        return f"s3://{self.bucket.bucket_name}/{self.prefix}/"

    def py_files_uri(self, version: str | None = None) -> str:
        """The archive of release ``version`` (default: this deploy's); ``version`` may be a placeholder."""
        return self.releases.py_files_uri(version)

    def deps_uri(self, version: str | None = None) -> str:
        """The third-party modules of release ``version`` (``pydeps.zip``)."""
        return self.releases.deps_uri(version)

    def spark_submit_parameters(self, version: str | None = None) -> str:
        """How a job run gets release ``version``'s Python code: see :meth:`Releases.spark_submit_parameters`."""
        return self.releases.spark_submit_parameters(version)

    def entrypoint_uri(self, job: str, version: str | None = None) -> str:
        """The entrypoint of ``job`` in release ``version`` (default: this deploy's)."""
        return self.releases.entrypoint_uri(job, version)

    @property
    def releases(self) -> Releases:
        """Where this bucket's releases are, with this deploy's version as the default."""
        return Releases(releases_uri=self.releases_uri, version=self.version)

    def _harden_handler(self, *, in_network: bool) -> None:
        """BucketDeployment's handler is a stack-wide singleton Lambda that CDK owns: cap its concurrency
        (:data:`DEPLOYMENT_CONCURRENCY`) on its CloudFormation resource, acknowledge the rest there."""
        stack = Stack.of(self)
        handlers = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        function = handlers[0].node.default_child if len(handlers) == 1 else None
        if not isinstance(function, lambda_.CfnFunction):
            raise RuntimeError(f"expected CDK's one BucketDeployment handler in {stack.stack_name}, found {handlers}")
        function.reserved_concurrent_executions = DEPLOYMENT_CONCURRENCY
        handler = handlers[0]
        acknowledge(
            handler,
            rules=["AwsSolutions-L1"],
            reason="The runtime of CDK's BucketDeployment handler is pinned by aws-cdk-lib, not by us.",
        )
        acknowledge(
            handler,
            rules=LAMBDA_DLQ,
            reason=(
                "CloudFormation invokes it asynchronously and waits for its answer: the handler reports a "
                "failed copy itself, a crash fails the stack operation on CloudFormation's timeout; a queued "
                "event of a finished deploy would be nothing to act on."
            ),
        )
        if not in_network:
            acknowledge(
                handler,
                rules=LAMBDA_IN_VPC,
                reason="network.enabled is false for this environment: there is no private network to run in.",
            )
