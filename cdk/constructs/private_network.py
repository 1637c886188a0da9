"""PrivateNetwork: a VPC of isolated subnets whose only way out is VPC endpoints (docs/security/NETWORK.md).

No internet gateway, no NAT gateway: the subnets route only to the S3 and DynamoDB gateway endpoints and reach
every other AWS API through an interface endpoint with private DNS. Each endpoint's policy admits only this
account's principals, on this account's resources (by name prefix where the service's ARNs allow it). Two
security groups: ``workloads`` (EMR Serverless jobs, the Lambdas) has no ingress and egress only on HTTPS to
the endpoints and to the S3/DynamoDB prefix lists; ``endpoints`` admits HTTPS from ``workloads`` only.
VPC flow logs (all traffic, rejected included) go to an encrypted log group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.compliance import acknowledge
from cdk.constructs.star_resource_policy import StarResourcePolicy, StarResourcePolicyProps

DEFAULT_SG_CLOSED = ("NIST.800.53.R5-VPCDefaultSecurityGroupClosed", "HIPAA.Security-VPCDefaultSecurityGroupClosed")
AWS_PREFIX_LISTS: Mapping[str, Mapping[str, str]] = {
    # AWS-managed prefix lists of the gateway endpoints' services (aws ec2 describe-prefix-lists), per region.
    "eu-west-1": {"s3": "pl-6da54004", "dynamodb": "pl-6fa54006"},
}
"""Addressed by id (a lookup would need AWS credentials at synth); a region missing here stops synth."""


@dataclass(frozen=True, kw_only=True)
class PrivateNetworkProps:
    cidr: str
    availability_zones: Sequence[str]
    name_prefix: str
    """``lakehouse-<env>``: names of the VPC's resources, and the prefix of the resources the endpoints admit."""
    project: str
    environment: str
    flow_logs_key: kms.IKey
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class PrivateNetwork(Construct):
    """The VPC, its endpoints (``gateway_endpoints``, ``interface_endpoints``) and its two security groups."""

    def __init__(self, scope: Construct, construct_id: str, *, props: PrivateNetworkProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if stack.region not in AWS_PREFIX_LISTS:
            raise ValueError(f"no S3/DynamoDB prefix list ids for {stack.region}: add them to AWS_PREFIX_LISTS")
        self.prefix_lists = AWS_PREFIX_LISTS[stack.region]
        subnet_mask = _subnet_mask(props.cidr, len(props.availability_zones))
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=f"{props.name_prefix}-private",
            ip_addresses=ec2.IpAddresses.cidr(props.cidr),
            availability_zones=list(props.availability_zones),
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=subnet_mask
                )
            ],
            enable_dns_hostnames=True,
            enable_dns_support=True,
        )
        acknowledge(
            self.vpc,
            rules=DEFAULT_SG_CLOSED,
            reason="No resource uses the default security group (each ENI gets workloads or endpoints); closing"
            " its rules takes a custom-resource Lambda outside the VPC.",
        )
        self.subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self._security_groups(props)
        scope_names = EndpointScope(
            account=stack.account,
            region=stack.region,
            prefix=props.name_prefix,
            project=props.project,
            environment=props.environment,
        )
        self.gateway_endpoints = self._gateway_endpoints(scope_names)
        self.interface_endpoints = self._interface_endpoints(scope_names)
        self._flow_logs(props)
        self.interfaces_policy = StarResourcePolicy(
            self,
            "LambdaNetworkInterfaces",
            props=StarResourcePolicyProps(
                description=f"Lets Lambda attach a function of {props.name_prefix} to its VPC (network interfaces).",
                statements=[iam.PolicyStatement(sid="VpcNetworkInterfaces", actions=[*ENI_ACTIONS], resources=["*"])],
                reason=(
                    "Lambda's VPC network-interface actions are documented on '*' (AWSLambdaVPCAccessExecutionRole):"
                    " the function's VpcConfig, not this policy, fixes the subnets and security group."
                ),
            ),
        ).policy
        """Attached by the role of every Lambda function that runs in this network."""

    def _security_groups(self, props: PrivateNetworkProps) -> None:
        """``workloads`` (no ingress, HTTPS out to the endpoints) and ``endpoints_group`` (HTTPS in from it)."""
        self.workloads = ec2.SecurityGroup(
            self,
            "Workloads",
            vpc=self.vpc,
            description=f"{props.name_prefix} jobs and Lambdas: no ingress; HTTPS to the VPC endpoints only.",
            allow_all_outbound=False,
        )
        self.endpoints_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            description=f"{props.name_prefix} interface endpoints: HTTPS from the workloads group only.",
            allow_all_outbound=False,
        )
        # L1 rules with fixed ids (CDK's would carry a hash of the stack's name in theirs).
        ec2.CfnSecurityGroupIngress(
            self,
            "EndpointsFromWorkloads",
            group_id=self.endpoints_group.security_group_id,
            source_security_group_id=self.workloads.security_group_id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from jobs and Lambdas",
        )
        ec2.CfnSecurityGroupEgress(
            self,
            "WorkloadsToEndpoints",
            group_id=self.workloads.security_group_id,
            destination_security_group_id=self.endpoints_group.security_group_id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS to the interface endpoints",
        )
        # Inline, so that CloudFormation drops the group's default allow-all egress (a group without an inline
        # egress rule keeps it; CDK would render these prefix-list rules as separate resources).
        workloads = self.workloads.node.default_child
        assert isinstance(workloads, ec2.CfnSecurityGroup)
        workloads.add_property_override(
            "SecurityGroupEgress",
            [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "DestinationPrefixListId": prefix_list,
                    "Description": f"HTTPS to {service} (gateway endpoint)",
                }
                for service, prefix_list in sorted(self.prefix_lists.items())
            ],
        )

    def _gateway_endpoints(self, names: EndpointScope) -> dict[str, ec2.GatewayVpcEndpoint]:
        """S3 and DynamoDB, on every isolated subnet's route table, each with its policy."""
        services = {"s3": ec2.GatewayVpcEndpointAwsService.S3, "dynamodb": ec2.GatewayVpcEndpointAwsService.DYNAMODB}
        endpoints = {}
        for name, service in services.items():
            endpoint = self.vpc.add_gateway_endpoint(
                f"{name.capitalize()}Endpoint",
                service=service,
                subnets=[ec2.SubnetSelection(subnets=self.subnets.subnets)],
            )
            for statement in names.statements(name):
                endpoint.add_to_policy(statement)
            endpoints[name] = endpoint
        return endpoints

    def _interface_endpoints(self, names: EndpointScope) -> dict[str, ec2.InterfaceVpcEndpoint]:
        """One interface endpoint per service of :data:`INTERFACE_SERVICES`, private DNS on, in every subnet."""
        endpoints = {}
        for name, service in INTERFACE_SERVICES.items():
            endpoint = self.vpc.add_interface_endpoint(
                f"{_camel(name)}Endpoint",
                service=service,
                subnets=ec2.SubnetSelection(subnets=self.subnets.subnets),
                security_groups=[self.endpoints_group],
                private_dns_enabled=True,
                open=False,
            )
            for statement in names.statements(name):
                endpoint.add_to_policy(statement)
            endpoints[name] = endpoint
        return endpoints

    def _flow_logs(self, props: PrivateNetworkProps) -> None:
        """Every accepted and rejected flow to an encrypted log group, written by a role of exact permissions."""
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=f"/vpc/{props.name_prefix}/flow-logs",
            encryption_key=props.flow_logs_key,
            retention=props.log_retention,
            removal_policy=props.removal_policy,
        )
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "FlowLogsRole",
            description=f"VPC flow logs of {props.name_prefix} to their log group.",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            managed_policies=[
                iam.ManagedPolicy(
                    self,
                    "FlowLogsPolicy",
                    description=f"Write the {props.name_prefix} VPC flow logs to their one log group.",
                    statements=[
                        iam.PolicyStatement(
                            sid="WriteFlowLogs",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                            resources=[self.flow_log_group.log_group_arn],
                        )
                    ],
                )
            ],
        )
        # The L1 resource: the L2 FlowLog adds grants to the role and acknowledges cfn-lint rules of its own.
        self.flow_log = ec2.CfnFlowLog(
            self,
            "FlowLog",
            resource_id=self.vpc.vpc_id,
            resource_type="VPC",
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_group_name=self.flow_log_group.log_group_name,
            deliver_logs_permission_arn=role.role_arn,
        )
        self.flow_log.node.add_dependency(role)


@dataclass(frozen=True, kw_only=True)
class FunctionNetwork:
    """Where a Lambda function runs (the operational ones, the job-release deployment): the environment's
    isolated subnets, under its ``workloads`` security group."""

    vpc: ec2.IVpc
    subnets: Sequence[ec2.ISubnet]
    security_group: ec2.ISecurityGroup
    interfaces_policy: iam.IManagedPolicy
    """Lets the function's role create its network interfaces (``PrivateNetwork.interfaces_policy``)."""


ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
"""What Lambda needs of a function's role to attach it to a VPC: the ENI actions of AWSLambdaVPCAccessExecutionRole
(v3, 2024-01-05), without its log-group actions (each function's own policy writes its one log group)."""

INTERFACE_SERVICES: Mapping[str, ec2.InterfaceVpcEndpointAwsService] = {
    "sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
    "states": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "xray": ec2.InterfaceVpcEndpointAwsService.XRAY,
    "secretsmanager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "emr-serverless": ec2.InterfaceVpcEndpointAwsService.EMR_SERVERLESS,
}
"""What the Spark jobs and the Lambdas call besides S3 and DynamoDB (docs/security/NETWORK.md has the table)."""


@dataclass(frozen=True, kw_only=True)
class EndpointScope:
    """The resources one environment's endpoints admit, per service (ARN patterns of this account and region)."""

    account: str
    region: str
    prefix: str
    project: str
    environment: str

    def resources(self, service: str) -> list[str]:
        """ARN patterns of this environment's resources of ``service``; ``["*"]`` where ARNs cannot scope it."""
        arn = f"arn:aws:{service}:{self.region}:{self.account}"
        by_service: dict[str, list[str]] = {
            "sqs": [f"{arn}:{self.prefix}-*"],
            "sns": [f"{arn}:{self.prefix}-*"],
            "states": [f"{arn}:stateMachine:{self.prefix}-*", f"{arn}:execution:{self.prefix}-*:*"],
            "ssm": [f"{arn}:parameter/{self.project}/{self.environment}/*"],
            "dynamodb": [f"{arn}:table/{self.prefix}-*"],
            "secretsmanager": [f"{arn}:secret:{self.prefix}/*"],
            "kms": [f"{arn}:key/*", f"{arn}:alias/{self.prefix}-*"],
            "logs": [f"{arn}:log-group:*"],
            "glue": [f"{arn}:catalog", f"{arn}:database/*", f"{arn}:table/*"],
            "emr-serverless": [f"{arn}:/applications/*"],
        }
        return by_service.get(service, ["*"])

    def statements(self, service: str) -> list[iam.PolicyStatement]:
        """The endpoint policy: this account's principals on ``service``'s resources of this environment.

        S3 has no region or account in its ARNs: its endpoint admits buckets of this account
        (``s3:ResourceAccount``), which holds this environment alone; and two AWS-owned buckets for named
        actions: EMR Serverless's log bucket (this account's principals) and CloudFormation's custom-resource
        response bucket (``PutObject`` under this account's stack keys, any principal: CloudFormation signs).
        """
        conditions: dict[str, dict[str, str]] = {"StringEquals": {"aws:PrincipalAccount": self.account}}
        if service == "s3":
            conditions["StringEquals"]["s3:ResourceAccount"] = self.account
        action = {"monitoring": "cloudwatch"}.get(service, service)
        statements = [
            iam.PolicyStatement(
                sid=f"{_camel(service)}OfThisEnvironment",
                principals=[iam.AnyPrincipal()],
                actions=[f"{action}:*"],
                resources=self.resources(service),
                conditions=conditions,
            )
        ]
        if service == "s3":
            # A custom resource's handler in the VPC (the job-assets deployment) answers CloudFormation with a PUT
            # to a presigned URL of CloudFormation's regional response bucket, signed by CloudFormation (so no
            # principal condition). The answer's key is the stack's ARN: only this account's stacks in this region.
            stacks = f"arn:aws:cloudformation:{self.region}:{self.account}:stack/*"
            statements.append(
                iam.PolicyStatement(
                    sid="CloudFormationCustomResourceResponses",
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[f"arn:aws:s3:::{custom_resource_response_bucket(self.region)}/{stacks}"],
                )
            )
            # EMR Serverless workers in the VPC ship the application UI's logs to the service's own bucket.
            statements.append(
                iam.PolicyStatement(
                    sid="EmrServerlessManagedLogs",
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject", "s3:GetObject"],
                    resources=[f"arn:aws:s3:::prod.{self.region}.appinfo.src/*"],
                    conditions={"StringEquals": {"aws:PrincipalAccount": self.account}},
                )
            )
        return statements


def custom_resource_response_bucket(region: str) -> str:
    """CloudFormation's bucket for custom resources' answers in ``region``: ``cloudformation-custom-resource-response-
    euwest1`` (AWS Lambda developer guide, "Using Lambda with CloudFormation": the event's ``ResponseURL``)."""
    return f"cloudformation-custom-resource-response-{region.replace('-', '')}"


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _subnet_mask(cidr: str, zones: int) -> int:
    """The largest equal subnets: one per AZ, the range split in 2 (2 AZs) or 4 (3 AZs, one quarter spare)."""
    prefix_length = int(cidr.split("/")[1])
    return prefix_length + (1 if zones <= 2 else 2)
