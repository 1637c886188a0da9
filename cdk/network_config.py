"""The network and producers sections of an environment's configuration, parsed from ``cdk.json``.

``network``: the environment's private network (docs/security/NETWORK.md): an address range, the
availability zones of its isolated subnets (named, so synth needs no lookup), and the roles that may reach the
lake buckets' data from outside the environment's S3 endpoint (a break-glass operator role, say).
``producers``: one entry per landing source (docs/security/PRODUCERS.md): who may assume the source's producer
role and the external id they must present. Rules across environments (address ranges that must not overlap)
are :func:`check_networks_disjoint`'s, called by :mod:`cdk.config` once every environment is read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from job_assets.contracts.landing import LANDING_ENTITIES

from .config_reader import ConfigError
from .config_reader import Section as _Section

MIN_AZS = 2
MAX_AZS = 3
MIN_PREFIX_LENGTH = 16
"""The largest VPC AWS allows (/16)."""
MAX_PREFIX_LENGTH = 22
"""The smallest range that still leaves each of three subnets room for the endpoints, jobs and Lambdas (/24 each)."""
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
PRODUCER_SOURCES = tuple(sorted({entity.source for entity in LANDING_ENTITIES} - {"reference"}))
"""Sources delivered by another team (``reference`` data is ours): ``crm``, ``snowflake``."""


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """The environment's VPC: isolated subnets only, reached by AWS services through VPC endpoints."""

    enabled: bool
    cidr: str
    """The VPC's IPv4 range, e.g. ``10.20.0.0/20``; split evenly into one isolated subnet per AZ."""
    availability_zones: tuple[str, ...]
    """Two or three AZ names of the environment's region (named: synth makes no lookup)."""
    data_access_exceptions: tuple[str, ...]
    """Role ARNs (names in cdk.json are completed with the environment's account) that may read and write the
    lake buckets' objects from outside the environment's S3 endpoint, e.g. a break-glass operator role."""


@dataclass(frozen=True, kw_only=True)
class ProducerConfig:
    """Who delivers one source's extracts to landing (docs/security/PRODUCERS.md)."""

    source: str
    principal: str
    """The account id (any role of that account that its admins allow) or the role ARN that may assume the role."""
    external_id: str
    """The value the producer passes as ``--external-id``/``ExternalId`` when it assumes the role."""


def role_arn(value: str, *, account: str, key: str) -> str:
    """``value`` as a role ARN: a role ARN as is, a role name completed with ``account``; else ConfigError."""
    if _ROLE_ARN.match(value):
        return value
    if _ROLE_NAME.match(value) and not value.startswith("arn:"):
        return f"arn:aws:iam::{account}:role/{value}"
    raise ConfigError(key, f"{value!r} names no IAM role (give a role name or arn:aws:iam::<account>:role/<name>)")


def parse_network(s: _Section, *, region: str, account: str) -> NetworkConfig:
    """The ``network`` section; an enabled network needs a valid range and 2-3 of ``region``'s AZs."""
    enabled = s.get("enabled", bool)
    cidr = _cidr(s)
    zones = s.get("availability_zones", list)
    if enabled and not MIN_AZS <= len(zones) <= MAX_AZS:
        raise ConfigError(
            s.key("availability_zones"),
            f"an enabled network needs {MIN_AZS} or {MAX_AZS} availability zones (one isolated subnet each),"
            f" got {len(zones)}",
        )
    for i, zone in enumerate(zones):
        if not isinstance(zone, str) or not re.fullmatch(rf"{re.escape(region)}[a-z]", zone):
            raise ConfigError(f"{s.key('availability_zones')}[{i}]", f"{zone!r} is not an AZ of {region}")
    if len(set(zones)) != len(zones):
        raise ConfigError(s.key("availability_zones"), "names an availability zone twice")
    exceptions = s.get("data_access_exceptions", list)
    arns = tuple(
        role_arn(
            value if isinstance(value, str) else "", account=account, key=f"{s.key('data_access_exceptions')}[{i}]"
        )
        for i, value in enumerate(exceptions)
    )
    s.close()
    return NetworkConfig(enabled=enabled, cidr=cidr, availability_zones=tuple(zones), data_access_exceptions=arns)


def _cidr(s: _Section) -> str:
    value = s.get("cidr", str)
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        raise ConfigError(s.key("cidr"), f"{value!r} is not an IPv4 network in CIDR notation ({error})") from None
    if not network.is_private:
        raise ConfigError(s.key("cidr"), f"{value} is not a private (RFC 1918) range")
    if not MIN_PREFIX_LENGTH <= network.prefixlen <= MAX_PREFIX_LENGTH:
        raise ConfigError(
            s.key("cidr"), f"prefix length must be between /{MIN_PREFIX_LENGTH} and /{MAX_PREFIX_LENGTH}, got {value}"
        )
    return value


def check_networks_disjoint(networks: Mapping[str, NetworkConfig], *, path: str) -> None:
    """Every enabled network's range apart from every other's (they may be peered or routed one day)."""
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for env, network in networks.items():
        if not network.enabled:
            continue
        mine = ipaddress.IPv4Network(network.cidr)
        for other, theirs in seen:
            if mine.overlaps(theirs):
                raise ConfigError(
                    f"{path}.{env}.network.cidr",
                    f"{mine} overlaps {other}'s network.cidr {theirs}; use disjoint ranges",
                )
        seen.append((env, mine))


def parse_producers(s: _Section) -> dict[str, ProducerConfig]:
    """The ``producers`` section: one entry per :data:`PRODUCER_SOURCES` source, no other."""
    producers: dict[str, ProducerConfig] = {}
    for source in s.raw:
        if source not in PRODUCER_SOURCES:
            raise ConfigError(s.key(source), f"unknown landing source; expected one of {', '.join(PRODUCER_SOURCES)}")
        p = s.section(source)
        principal = p.get("principal", str)
        if not (_ACCOUNT.match(principal) or _ROLE_ARN.match(principal)):
            raise ConfigError(
                p.key("principal"),
                f"{principal!r} names no role or account (arn:aws:iam::<account>:role/<name> or an id)",
            )
        external_id = p.get("external_id", str)
        if not _EXTERNAL_ID.match(external_id):
            raise ConfigError(p.key("external_id"), "must be 2-1224 characters of letters, digits and +=,.@:/-")
        p.close()
        producers[source] = ProducerConfig(source=source, principal=principal, external_id=external_id)
    s.close()
    return producers
