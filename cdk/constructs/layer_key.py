"""LayerKey: a customer managed key whose policy names who may use it; the account may only administer it.

CDK's default key policy gives the account root ``kms:*``, which lets *any* IAM policy of the account use the
key: with one data key, a role allowed to decrypt one layer could decrypt them all. A LayerKey's policy has:

* ``KeyAdministration``: the account root, administration actions only (:data:`ADMIN_ACTIONS`: create,
  describe, enable/disable, list, put, update, revoke, get, delete, tag, schedule/cancel deletion). No
  ``kms:Decrypt``, ``Encrypt``, ``GenerateDataKey`` or ``ReEncrypt``: an IAM policy alone never lets a principal
  use the key (the account keeps the key manageable, so it cannot become unmanageable).
* ``DecryptByNamedRoles`` / ``EncryptByNamedRoles``: the account root *with* an ``aws:PrincipalArn``
  condition listing the exact role ARNs that may use the key. This is a delegation to IAM restricted to those
  roles: a listed role still needs its own IAM policy (the stacks attach the bucket access policies, which
  carry the ``kms:ViaService`` condition), an unlisted role cannot use the key whatever its IAM policy says.
* ``UseThroughServices`` (optional): any principal of this account, but only through the listed AWS services
  (``kms:ViaService`` and ``kms:CallerAccount``): for keys without personal data (ops queues, the artifacts
  bucket, alerts), where IAM alone decides who.
* ``AllowCloudWatchLogs…`` (optional): CloudWatch Logs of the key's region for this account's log groups.

Why conditions instead of role principals: the key's stack (Storage, DR) deploys *before* the stacks that
own most of the roles (Compute, Ops), and the roles use the key's ARN. A key policy naming ``role.role_arn``
would make the key's stack import from a later stack (a circular cross-stack dependency), and KMS rejects a
policy whose principal does not exist yet. The roles that use a data key therefore have fixed names (the job
roles ``<prefix>-<job>-job``, the Lambda roles ``<function>-role``, the replication roles
``<prefix>-<layer>-replication``), the key policy names their ARNs as strings in the condition (KMS does not
validate condition values, so the order of deployment does not matter), and roles of the key's own stack are
named by reference. CDK grants (``key.grant_*``) on these keys still land in the grantee's IAM policy only
(``trustAccountIdentities``); they work only for roles the key policy names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

ADMIN_ACTIONS = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
"""What the account root may do with a key: administer it, never use it."""
DECRYPT_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
ENCRYPT_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
DATA_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt")
"""Prefixes of the actions that use a key (tests assert the root's administration statement has none)."""


def role_arn(scope: Construct, role_name: str) -> str:
    """The ARN of the role named ``role_name`` in ``scope``'s account (a string: no reference to the role)."""
    return Stack.of(scope).format_arn(
        service="iam", region="", resource="role", resource_name=role_name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


@dataclass(frozen=True, kw_only=True)
class LayerKeyProps:
    alias: str
    """``alias/<prefix>-<role>`` (``platform_model.aws_names.kms_alias``)."""
    description: str
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    decrypters: Sequence[str] = ()
    """ARNs of the roles that may decrypt (read) with the key."""
    encrypters: Sequence[str] = ()
    """ARNs of the roles that may encrypt and decrypt (write) with the key."""
    via_services: Sequence[str] = ()
    """Service endpoints (``s3.eu-west-1.amazonaws.com``) through which any principal of the account may use
    the key (IAM decides who): only for keys without personal data."""
    cloudwatch_logs: bool = False
    """CloudWatch Logs of the key's region may use it for this account's log groups."""


class LayerKey(Construct):
    """A rotating customer managed key with the policy of the module docstring; ``key`` is the L2 key."""

    def __init__(self, scope: Construct, construct_id: str, *, props: LayerKeyProps) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._account = stack.account
        # With a ``policy`` given, CDK adds no ``kms:*`` statement for the account (defaultKeyPolicies flag).
        self.key = kms.Key(
            self,
            "Key",
            alias=props.alias,
            description=props.description,
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=props.removal_policy,
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="KeyAdministration",
                        principals=[iam.AccountRootPrincipal()],
                        actions=list(ADMIN_ACTIONS),
                        resources=["*"],
                    )
                ]
            ),
        )
        self.allow_roles("DecryptByNamedRoles", props.decrypters, write=False)
        self.allow_roles("EncryptByNamedRoles", props.encrypters, write=True)
        if props.via_services:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="UseThroughServices",
                    principals=[iam.AccountRootPrincipal()],
                    actions=list(ENCRYPT_ACTIONS),
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:CallerAccount": self._account, "kms:ViaService": list(props.via_services)}
                    },
                )
            )
        if props.cloudwatch_logs:
            allow_cloudwatch_logs(self.key)

    def allow_roles(self, sid: str, role_arns: Sequence[str], *, write: bool) -> None:
        """Let exactly ``role_arns`` (of this account) decrypt, or also encrypt with ``write``; none: nothing."""
        if not role_arns:
            return
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.AccountRootPrincipal()],
                actions=list(ENCRYPT_ACTIONS if write else DECRYPT_ACTIONS),
                resources=["*"],
                conditions={"ArnEquals": {"aws:PrincipalArn": list(role_arns)}},
            )
        )


def allow_cloudwatch_logs(key: kms.Key) -> None:
    """Let CloudWatch Logs of ``key``'s region use ``key`` for this account's log groups (and no others)."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
