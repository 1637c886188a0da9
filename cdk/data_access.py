"""The data_access section of an environment's configuration: the people-facing roles that query gold through
Athena under Lake Formation (docs/security/PII.md). The analyst role sees the gold tables without their personal
columns; the privileged role sees everything. Parsed from ``cdk.json`` (``data_access``); every problem is a
:class:`ConfigError` naming its key."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config_reader import ConfigError
from .config_reader import Section as _Section

_ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
_PRINCIPAL_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:iam::\d{12}:(root|role/[A-Za-z0-9+=,.@_/-]+|user/[A-Za-z0-9+=,.@_/-]+)$"
)
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$")
ACCESS_ROLES = ("analyst", "privileged")


@dataclass(frozen=True, kw_only=True)
class AccessRoleConfig:
    """One role people assume to query gold: its name and who may assume it."""

    role_name: str
    trusted_principals: tuple[str, ...]
    """IAM ARNs (an account's ``root``, a role, a user) allowed to call ``sts:AssumeRole`` on the role."""


@dataclass(frozen=True, kw_only=True)
class DataAccessConfig:
    """Who reads gold through Athena and Lake Formation, and who administers Lake Formation."""

    analyst: AccessRoleConfig
    """SELECT on the gold tables' columns tagged ``classification=non_pii``."""
    privileged: AccessRoleConfig
    """SELECT on every gold column, personal ones included."""
    lake_formation_admins: tuple[str, ...]
    """Role ARNs added (never replacing others) as Lake Formation data-lake administrators, besides the CDK
    deployment role: the operators that run ``lakehouse promote``/``rollback`` (they re-point gold tables)."""


def _role(s: _Section) -> AccessRoleConfig:
    name = s.matching("role_name", _ROLE_NAME, "IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-)")
    principals = s.get("trusted_principals", list)
    if not principals:
        raise ConfigError(s.key("trusted_principals"), "at least one principal ARN is required")
    for i, arn in enumerate(principals):
        if not isinstance(arn, str) or not _PRINCIPAL_ARN.match(arn):
            raise ConfigError(f"{s.key('trusted_principals')}[{i}]", f"{arn!r} is not an IAM root, role or user ARN")
    s.close()
    return AccessRoleConfig(role_name=name, trusted_principals=tuple(principals))


def parse_data_access(s: _Section) -> DataAccessConfig:
    """The ``data_access`` section: two distinct roles, each trusted by at least one principal."""
    roles = {name: _role(s.section(name)) for name in ACCESS_ROLES}
    if roles["analyst"].role_name == roles["privileged"].role_name:
        raise ConfigError(s.key("privileged.role_name"), "must differ from analyst.role_name")
    admins = s.get("lake_formation_admins", list)
    for i, arn in enumerate(admins):
        if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
            raise ConfigError(f"{s.key('lake_formation_admins')}[{i}]", f"{arn!r} is not an IAM role ARN")
    s.close()
    return DataAccessConfig(
        analyst=roles["analyst"], privileged=roles["privileged"], lake_formation_admins=tuple(admins)
    )
