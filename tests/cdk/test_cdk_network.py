"""The private network, per environment: isolated subnets only, endpoints with policies, closed security groups,
the jobs and Lambdas inside, and the lake buckets' objects reachable only through the S3 endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_testkit import Synthesized, resources

from cdk.config import EnvironmentConfig
from cdk.constructs.endpoint_data_perimeter import DATA_ACTIONS, SID
from cdk.constructs.job_assets import DEPLOYMENT_CONCURRENCY
from cdk.constructs.private_network import ENI_ACTIONS

ENVS = ["dev", "staging", "prod"]
INTERFACE_SERVICES = {
    "sts",
    "kms",
    "logs",
    "monitoring",
    "sqs",
    "sns",
    "ssm",
    "states",
    "glue",
    "xray",
    "secretsmanager",
    "emr-serverless",
}
NO_ROUTE_OUT = ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::EIP")


def network(lakehouse: Synthesized, env: str) -> dict[str, Any]:
    stacks = lakehouse.environments[env]
    assert stacks.network is not None
    return lakehouse.template(stacks.network)


def logical_id(resources_of_type: dict[str, Any], prefix: str) -> str:
    (found,) = [k for k in resources_of_type if k.startswith(prefix)]
    return found


def imported(template: dict[str, Any], network_logical_id: str) -> bool:
    """Whether ``template`` imports an export of the network stack's ``network_logical_id``."""
    return network_logical_id in json.dumps(template)


def service_of(endpoint: dict[str, Any]) -> str:
    """``s3``, ``sts``, ... from ``com.amazonaws.<region>.<service>`` (gateways name their region by Ref)."""
    name = endpoint["Properties"]["ServiceName"]
    return (name if isinstance(name, str) else name["Fn::Join"][1][-1]).rsplit(".", 1)[1]


@pytest.mark.parametrize("env", ENVS)
def test_isolated_subnets_only_no_way_out(lakehouse: Synthesized, env: str, env_config: dict[str, Any]) -> None:
    config: EnvironmentConfig = env_config[env]
    for _, template in lakehouse.templates(env):
        for cfn_type in NO_ROUTE_OUT:
            assert not resources(template, cfn_type), (env, cfn_type)
    template = network(lakehouse, env)
    (vpc,) = resources(template, "AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == config.network.cidr
    subnets = resources(template, "AWS::EC2::Subnet").values()
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets) == sorted(config.network.availability_zones)
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    assert all("isolated" in json.dumps(s["Properties"]["Tags"]) for s in subnets)
    # No route at all: the gateway endpoints add their prefix-list routes themselves.
    assert not resources(template, "AWS::EC2::Route")
    (flow_log,) = resources(template, "AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"


@pytest.mark.parametrize("env", ENVS)
def test_every_endpoint_is_present_with_a_policy_of_this_environment(
    lakehouse: Synthesized, env: str, env_config: dict[str, Any]
) -> None:
    config: EnvironmentConfig = env_config[env]
    template = network(lakehouse, env)
    endpoints = resources(template, "AWS::EC2::VPCEndpoint")
    gateways = {service_of(e): e for e in endpoints.values() if e["Properties"]["VpcEndpointType"] == "Gateway"}
    interfaces = {service_of(e): e for e in endpoints.values() if e["Properties"]["VpcEndpointType"] == "Interface"}
    assert set(gateways) == {"s3", "dynamodb"}
    assert set(interfaces) == INTERFACE_SERVICES
    endpoints_group = logical_id(resources(template, "AWS::EC2::SecurityGroup"), "PrivateEndpoints")
    s3_statements = gateways["s3"]["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in s3_statements] == [
        "S3OfThisEnvironment",
        "CloudFormationCustomResourceResponses",
        "EmrServerlessManagedLogs",
    ]
    # CloudFormation signs the answer's URL, so no principal condition: one action, this account's stacks only.
    response_bucket = f"cloudformation-custom-resource-response-{config.region.replace('-', '')}"
    assert (s3_statements[1]["Action"], s3_statements[1]["Resource"], "Condition" in s3_statements[1]) == (
        "s3:PutObject",
        f"arn:aws:s3:::{response_bucket}/arn:aws:cloudformation:{config.region}:{config.account}:stack/*",
        False,
    )
    assert s3_statements[2]["Resource"] == f"arn:aws:s3:::prod.{config.region}.appinfo.src/*"
    for service, endpoint in {**gateways, **interfaces}.items():
        statement = endpoint["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": "*"}, service
        assert statement["Sid"].endswith("OfThisEnvironment"), service
        assert all(
            s["Condition"]["StringEquals"]["aws:PrincipalAccount"] == config.account
            for s in endpoint["Properties"]["PolicyDocument"]["Statement"]
            if s["Sid"] != "CloudFormationCustomResourceResponses"
        ), service
        resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert all(r == "*" or f":{config.account}:" in r for r in resources_), (service, resources_)
    assert (
        gateways["s3"]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["StringEquals"][
            "s3:ResourceAccount"
        ]
        == config.account
    )
    assert f":table/{config.prefix}-*" in json.dumps(gateways["dynamodb"]["Properties"]["PolicyDocument"])
    assert f":stateMachine:{config.prefix}-*" in json.dumps(interfaces["states"]["Properties"]["PolicyDocument"])
    for endpoint in interfaces.values():
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True
        assert endpoint["Properties"]["SecurityGroupIds"] == [{"Fn::GetAtt": [endpoints_group, "GroupId"]}]
        assert len(endpoint["Properties"]["SubnetIds"]) == len(config.network.availability_zones)


@pytest.mark.parametrize("env", ENVS)
def test_workloads_group_has_no_ingress_and_reaches_only_the_endpoints(lakehouse: Synthesized, env: str) -> None:
    template = network(lakehouse, env)
    groups = resources(template, "AWS::EC2::SecurityGroup")
    workloads_id = logical_id(groups, "PrivateWorkloads")
    endpoints_id = logical_id(groups, "PrivateEndpoints")
    workloads = groups[workloads_id]["Properties"]
    assert "SecurityGroupIngress" not in workloads
    # Inline egress (so CloudFormation drops its default allow-all): the S3 and DynamoDB prefix lists on 443.
    assert {
        (r["DestinationPrefixListId"], r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in workloads["SecurityGroupEgress"]
    } == {("pl-6da54004", "tcp", 443, 443), ("pl-6fa54006", "tcp", 443, 443)}
    ingress = list(resources(template, "AWS::EC2::SecurityGroupIngress").values())
    egress = list(resources(template, "AWS::EC2::SecurityGroupEgress").values())
    assert [i["Properties"]["GroupId"] for i in ingress] == [{"Fn::GetAtt": [endpoints_id, "GroupId"]}]
    assert ingress[0]["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [workloads_id, "GroupId"]}
    assert [(e["Properties"]["GroupId"], e["Properties"]["DestinationSecurityGroupId"]) for e in egress] == [
        ({"Fn::GetAtt": [workloads_id, "GroupId"]}, {"Fn::GetAtt": [endpoints_id, "GroupId"]})
    ]
    assert (egress[0]["Properties"]["FromPort"], egress[0]["Properties"]["ToPort"]) == (443, 443)
    # The endpoints' group sends nothing (CDK's "disallow all" placeholder rule).
    assert groups[endpoints_id]["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"


@pytest.mark.parametrize("env", ENVS)
def test_emr_application_runs_in_the_isolated_subnets(
    lakehouse: Synthesized, env: str, env_config: dict[str, Any]
) -> None:
    compute = lakehouse.template(lakehouse.environments[env].compute)
    (application,) = resources(compute, "AWS::EMRServerless::Application").values()
    configuration = application["Properties"]["NetworkConfiguration"]
    assert len(configuration["SubnetIds"]) == len(env_config[env].network.availability_zones)
    assert all("isolatedSubnet" in s["Fn::ImportValue"] for s in configuration["SubnetIds"])
    (group,) = configuration["SecurityGroupIds"]
    assert "PrivateWorkloads" in group["Fn::ImportValue"]


@pytest.mark.parametrize("env", ENVS)
def test_every_ops_lambda_runs_in_the_vpc_but_the_replica_verifier(lakehouse: Synthesized, env: str) -> None:
    stacks = lakehouse.environments[env]
    ops = lakehouse.template(stacks.ops)
    functions = {
        f["Properties"]["FunctionName"]: f["Properties"]
        for f in resources(ops, "AWS::Lambda::Function").values()
        if "FunctionName" in f["Properties"]
    }
    assert set(functions) == {f"lakehouse-{env}-{name}" for name in stacks.ops.functions}
    for name, function in functions.items():
        if name.endswith("replica-verifier"):
            assert "VpcConfig" not in function  # reads the DR region's replicas: see NETWORK.md
            continue
        vpc = function["VpcConfig"]
        assert ["PrivateWorkloads" in g["Fn::ImportValue"] for g in vpc["SecurityGroupIds"]] == [True], name
        assert all("isolatedSubnet" in s["Fn::ImportValue"] for s in vpc["SubnetIds"]), name
    assert any(name.endswith("replica-verifier") for name in functions) == (stacks.dr is not None)


@pytest.mark.parametrize("env", ENVS)
def test_the_job_assets_deployment_runs_in_the_vpc_with_reserved_concurrency(lakehouse: Synthesized, env: str) -> None:
    """CDK's BucketDeployment handler (it copies each job release at deploy time) is a Lambda like ours: in the
    isolated subnets under ``workloads``, its concurrency capped, its role attaching the network's interfaces policy."""
    compute = lakehouse.template(lakehouse.environments[env].compute)
    (handler,) = [
        f["Properties"]
        for k, f in resources(compute, "AWS::Lambda::Function").items()
        if k.startswith("CustomCDKBucketDeployment")
    ]
    vpc = handler["VpcConfig"]
    assert ["PrivateWorkloads" in g["Fn::ImportValue"] for g in vpc["SecurityGroupIds"]] == [True]
    assert len(vpc["SubnetIds"]) == len(lakehouse.config.environments[env].network.availability_zones)
    assert all("isolatedSubnet" in s["Fn::ImportValue"] for s in vpc["SubnetIds"])
    assert handler["ReservedConcurrentExecutions"] == DEPLOYMENT_CONCURRENCY
    (role,) = [r for k, r in resources(compute, "AWS::IAM::Role").items() if k.startswith("JobAssetsDeploymentRole")]
    attached = json.dumps(role["Properties"]["ManagedPolicyArns"])
    assert attached.count("PrivateLambdaNetworkInterfacesPolicy") == 1
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for k, p in resources(network(lakehouse, env), "AWS::IAM::ManagedPolicy").items()
        if k.startswith("PrivateLambdaNetworkInterfacesPolicy")
    ]
    assert [(s["Sid"], sorted(s["Action"]), s["Resource"]) for s in policy] == [
        ("VpcNetworkInterfaces", sorted(ENI_ACTIONS), "*")
    ]


def perimeter(storage: dict[str, Any], layer: str) -> dict[str, Any]:
    policies = resources(storage, "AWS::S3::BucketPolicy")
    (policy,) = [p for k, p in policies.items() if k.startswith(f"{layer.capitalize()}BucketPolicy")]
    (statement,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == SID]
    return statement


def exception_names(statement: dict[str, Any]) -> list[str]:
    """The exceptions as readable names: a literal ARN's role name, a same-stack role's logical id prefix."""
    names = []
    for arn in statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]:
        names.append(arn.rsplit("/", 1)[1] if isinstance(arn, str) else arn["Fn::GetAtt"][0][:-8])
    return names


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("layer", ["landing", "bronze", "silver", "gold"])
def test_lake_buckets_deny_data_access_outside_the_s3_endpoint(
    lakehouse: Synthesized, env: str, layer: str, env_config: dict[str, Any]
) -> None:
    stacks = lakehouse.environments[env]
    storage = lakehouse.template(stacks.storage)
    statement = perimeter(storage, layer)
    assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
    assert sorted(statement["Action"]) == sorted(DATA_ACTIONS)
    assert statement["Resource"]["Fn::Join"][1][1] == "/*"
    vpce = statement["Condition"]["StringNotEquals"]["aws:SourceVpce"]
    assert "PrivateVpcS3Endpoint" in vpce["Fn::ImportValue"]
    assert statement["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false", "aws:ViaAWSService": "false"}
    replicated = stacks.dr is not None
    expected = [
        f"lakehouse-{env}-break-glass",
        *([f"{layer.capitalize()}ReplicationRole"] if replicated else []),
        "BackupBackupRole",
        *([f"lakehouse-{env}-replica-verifier-role"] if replicated else []),
        *(["CrmProducerRole", "SnowflakeProducerRole"] if layer == "landing" else []),
        *(["PiiAccessControlLocationRole"] if layer == "gold" else []),
        *(
            ["AWSServiceRoleForAmazonMacie"]
            if layer in ("silver", "gold") and env_config[env].security.detection.macie
            else []
        ),
    ]
    assert exception_names(statement) == expected
    assert env_config[env].network.data_access_exceptions == (
        f"arn:aws:iam::{env_config[env].account}:role/lakehouse-{env}-break-glass",
    )


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_replica_verifier_exception_is_its_role(lakehouse: Synthesized, env: str) -> None:
    ops = lakehouse.template(lakehouse.environments[env].ops)
    role = resources(ops, "AWS::IAM::Role")[logical_id(resources(ops, "AWS::IAM::Role"), "ReplicaVerifierRole")]
    assert role["Properties"]["RoleName"] == f"lakehouse-{env}-replica-verifier-role"


def test_network_stack_deploys_before_storage_compute_and_ops(lakehouse: Synthesized) -> None:
    for stacks in lakehouse.environments.values():
        assert stacks.network is not None
        for dependent in (stacks.storage, stacks.compute, stacks.ops):
            assert stacks.network in dependent.dependencies, dependent.stack_name
