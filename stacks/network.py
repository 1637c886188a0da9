"""Lakehouse-<env>-Network: the environment's private network (docs/security/NETWORK.md).

Deployed first: the Storage stack's bucket policies name its S3 endpoint, the Compute stack's EMR application
and the Ops stack's Lambdas run in its subnets under its ``workloads`` security group.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from cdk.config import EnvironmentConfig
from cdk.constructs.layer_key import LayerKey, LayerKeyProps
from cdk.constructs.private_network import FunctionNetwork, PrivateNetwork, PrivateNetworkProps
from cdk.log_retention import log_retention
from platform_model import aws_names


class NetworkStack(Stack):
    """The VPC (isolated subnets, endpoints, security groups) and the key of its flow logs."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = RemovalPolicy.DESTROY if config.features.allow_destroy else RemovalPolicy.RETAIN
        self.key = LayerKey(
            self,
            "NetworkKey",
            props=LayerKeyProps(
                alias=aws_names.kms_alias(config.name, "network", config.project),
                description=f"Encrypts the {config.prefix} VPC flow logs.",
                removal_policy=removal,
                cloudwatch_logs=True,
            ),
        ).key
        self.network = PrivateNetwork(
            self,
            "Private",
            props=PrivateNetworkProps(
                cidr=config.network.cidr,
                availability_zones=config.network.availability_zones,
                name_prefix=config.prefix,
                project=config.project,
                environment=config.name,
                flow_logs_key=self.key,
                log_retention=log_retention(config.retention.log_group_retention_days),
                removal_policy=removal,
            ),
        )

    @property
    def vpc(self) -> ec2.IVpc:
        return self.network.vpc

    @property
    def workloads(self) -> ec2.ISecurityGroup:
        """The security group of the jobs and the Lambdas."""
        return self.network.workloads

    @property
    def subnets(self) -> ec2.SelectedSubnets:
        return self.network.subnets

    @property
    def function_network(self) -> FunctionNetwork:
        """Where a Lambda of this environment runs: these subnets, under ``workloads``."""
        return FunctionNetwork(
            vpc=self.vpc,
            subnets=self.subnets.subnets,
            security_group=self.workloads,
            interfaces_policy=self.network.interfaces_policy,
        )

    @property
    def s3_endpoint(self) -> ec2.GatewayVpcEndpoint:
        """The S3 gateway endpoint the lake bucket policies require (``aws:SourceVpce``)."""
        return self.network.gateway_endpoints["s3"]
