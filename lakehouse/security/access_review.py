"""Who can read, write or decrypt what, computed from one environment's synthesized templates.

For every bucket, every table prefix in it (from the contracts) and every KMS key: the roles and service
principals that may read objects (``s3:GetObject``), write them (``s3:PutObject``/``s3:DeleteObject``) or
decrypt (``kms:Decrypt``), from the roles' identity policies (inline, ``AWS::IAM::Policy`` and customer managed
policies), bucket policies and key policies; then who reaches personal data: read and decrypt on the files of
a table the contracts mark personal, or Lake Formation SELECT on its ``pii`` columns. AWS managed policies are
listed per role but not evaluated (their documents are not in the templates). docs/security/ACCESS_REVIEW.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from job_assets.contracts import ALL_TABLES, LANDING_ENTITIES
from job_assets.contracts.layout import SLOTS, SLOTTED_LAYERS, ZONES
from job_assets.contracts.model import LF_TAG_KEY

from .policies import ANYONE, Statement, decide, matches, statements
from .templates import Assembly, Resource

READ = ("s3:GetObject",)
WRITE = ("s3:PutObject", "s3:DeleteObject")
DECRYPT = ("kms:Decrypt",)
_PROBE = "probe/object"
_ZONE = re.compile("(?i)(" + "|".join(ZONES) + ")")


@dataclass
class Principal:
    """A role of the templates, or a principal a resource policy names (a service, an external ARN)."""

    name: str
    kind: str  # role | service | external
    ids: tuple[str, ...] = ()
    identity: list[Statement] = field(default_factory=list)
    assumed_by: list[str] = field(default_factory=list)
    unevaluated: list[str] = field(default_factory=list)

    def named_by(self, principal: str) -> bool:
        """Whether a policy's principal ``principal`` (an ARN, a pattern or ``*``) names this principal."""
        if principal == ANYONE:
            return True
        # a policy's pattern against our ids, or our name pattern (any account) against a policy's literal ARN
        return any(matches(principal, i) or matches(i, principal) for i in self.ids)


def _role_ids(role: Resource) -> tuple[str, ...]:
    ids = [f"{role.token[:-1]}.Arn}}"]
    if isinstance(role.properties.get("RoleName"), str):
        ids.append(f"arn:aws:iam::*:role/{role.properties['RoleName']}")
    return tuple(ids)


def _attached(assembly: Assembly, role: Resource) -> Iterator[tuple[str, Any, str]]:
    """(stack, policy document, name) of every customer policy of ``role``; AWS managed ones by ARN."""
    for inline in role.properties.get("Policies", []):
        yield role.stack, inline.get("PolicyDocument"), inline.get("PolicyName", "inline")
    for arn in assembly.resolve_list(role.properties.get("ManagedPolicyArns", []), role.stack):
        policy = assembly.resource(str(arn))
        if policy is not None:
            yield policy.stack, policy.properties.get("PolicyDocument"), policy.name
        else:
            yield role.stack, None, str(arn)
    role_refs = {role.token, f"{role.token[:-1]}.Arn}}", str(role.properties.get("RoleName"))}
    for policy in assembly.resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        attached = assembly.resolve_list(policy.properties.get("Roles", []), policy.stack)
        if role_refs & {str(r) for r in attached}:
            yield policy.stack, policy.properties.get("PolicyDocument"), policy.name


def _roles(assembly: Assembly) -> list[Principal]:
    roles = []
    for role in assembly.resources("AWS::IAM::Role"):
        principal = Principal(name=role.name, kind="role", ids=_role_ids(role))
        for stack, document, name in _attached(assembly, role):
            if document is None:
                principal.unevaluated.append(name)
            else:
                principal.identity += statements(document, assembly, stack)
        trust = statements(role.properties.get("AssumeRolePolicyDocument"), assembly, role.stack)
        principal.assumed_by = sorted({p for s in trust for p in s.principals})
        roles.append(principal)
    return roles


@dataclass
class Guarded:
    """A bucket or key: its resource policy's statements and the principals they name."""

    resource: Resource
    policy: list[Statement]


def _guarded(assembly: Assembly) -> tuple[list[Guarded], list[Guarded]]:
    """Buckets with their bucket policies, keys with their key policies."""
    policies: dict[str, list[Statement]] = {}
    for bucket_policy in assembly.resources("AWS::S3::BucketPolicy"):
        target = str(assembly.resolve(bucket_policy.properties.get("Bucket"), bucket_policy.stack))
        document = bucket_policy.properties.get("PolicyDocument")
        policies.setdefault(target, []).extend(statements(document, assembly, bucket_policy.stack))
    buckets = [Guarded(b, policies.get(b.token, [])) for b in assembly.resources("AWS::S3::Bucket")]
    keys = [
        Guarded(k, statements(k.properties.get("KeyPolicy"), assembly, k.stack))
        for k in assembly.resources("AWS::KMS::Key")
    ]
    return buckets, keys


def _others(guarded: Sequence[Guarded], roles: Sequence[Principal]) -> list[Principal]:
    """The services and external principals resource policies allow (the account root delegates to IAM)."""
    names: set[str] = set()
    for g in guarded:
        for s in g.policy:
            if s.effect == "Allow":
                names |= {p for p in s.principals if p != ANYONE and not any(r.named_by(p) for r in roles)}
    return [
        Principal(name=n, kind="service" if n.startswith("service:") else "external", ids=(n,))
        for n in sorted(names)
        if not re.fullmatch(r"arn:aws:iam::[^:]+:root", n)
    ]


def arn_of(resource: Resource) -> str:
    """The placeholder of a resource's ARN in the review, ``{Stack:LogicalId.Arn}``."""
    return f"{resource.token[:-1]}.Arn}}"


def _scoped(policy: Sequence[Statement], principal: Principal) -> list[Statement]:
    """The resource policy's statements that apply to ``principal`` (named, or not excluded by NotPrincipal)."""
    return [
        s
        for s in policy
        if any(principal.named_by(p) for p in s.principals)
        or (s.not_principals and not any(principal.named_by(p) for p in s.not_principals))
    ]


def key_decrypters(key: Guarded, principals: Sequence[Principal]) -> list[str]:
    """Who may ``kms:Decrypt`` with the key: named by its policy, or by IAM when the policy delegates to the
    account (a statement for the account root)."""
    arn = arn_of(key.resource)
    delegates = any(
        s.effect == "Allow" and s.allows_action(DECRYPT[0]) and any(re.search(r":root$", p) for p in s.principals)
        for s in key.policy
    )
    found = []
    for p in principals:
        direct = _scoped(key.policy, p)
        via_iam = p.identity if delegates else []
        if decide([*direct, *via_iam], [*direct, *p.identity], DECRYPT, arn):
            found.append(p.name)
    return sorted(found)


def _bucket_statements(bucket: Guarded, principal: Principal) -> list[Statement]:
    """The bucket policy's statements naming ``principal`` and the principal's own: S3 allows by either."""
    return [*_scoped(bucket.policy, principal), *principal.identity]


def object_scopes(bucket: Guarded, principal: Principal, actions: Sequence[str]) -> list[str]:
    """The key patterns of ``bucket`` on which ``principal`` may do one of ``actions`` (``*``: every key)."""
    arn = arn_of(bucket.resource)
    allowing = denying = _bucket_statements(bucket, principal)
    scopes = set()
    for s in allowing:
        if s.effect != "Allow" or not any(s.allows_action(a) for a in actions):
            continue
        for pattern in s.resources or ("*",):
            if pattern.startswith(f"{arn}/"):
                scopes.add(pattern[len(arn) + 1 :])
            elif s.covers(f"{arn}/{_PROBE}"):
                scopes.add("*")
    return sorted(k for k in scopes if decide(allowing, denying, actions, f"{arn}/{k.replace('*', _PROBE)}"))


def prefix_access(bucket: Guarded, principal: Principal, actions: Sequence[str], prefix: str) -> str | None:
    """``full`` when ``principal`` may act on every key under ``prefix`` (no unconditional deny there);
    ``part: <scopes>`` when on some keys (e.g. only ``_delta_log/``); else None."""
    statements_ = _bucket_statements(bucket, principal)
    arn = arn_of(bucket.resource)
    if decide(statements_, statements_, actions, f"{arn}/{prefix}{_PROBE}"):
        return "full"
    partial = [
        scope
        for scope in object_scopes(bucket, principal, actions)
        if (key := _key_within(scope, prefix)) and decide(statements_, statements_, actions, f"{arn}/{key}")
    ]
    return f"part: {', '.join(partial)}" if partial else None


def _key_within(scope: str, prefix: str) -> str | None:
    """A key under ``prefix`` that ``scope`` (a narrower pattern, e.g. ``*/_delta_log/*``) covers, or None."""
    literal = scope.split("*", 1)[0]
    if literal.startswith(prefix):
        return scope.replace("*", _PROBE)
    key = f"{prefix}_delta_log/{_PROBE}"
    return key if prefix.startswith(literal) and matches(scope, key) else None


def table_prefixes(zone: str) -> dict[str, str]:
    """Key prefix -> table (``landing/<source>/<entity>`` for landing) of one zone's bucket."""
    if zone == "landing":
        return {f"{e.source}/{e.entity}/": f"landing.{e.source}.{e.entity}" for e in LANDING_ENTITIES}
    tables = [t for t in ALL_TABLES if t.layer == zone]
    slots = SLOTS if zone in SLOTTED_LAYERS else ("",)
    return {f"{slot}/{t.table}/".lstrip("/"): t.name for slot in slots for t in tables}


def personal_tables() -> dict[str, list[str]]:
    """Table (or landing entity) -> its personal columns, from the contracts."""
    found = {f"landing.{e.source}.{e.entity}": [f.name for f in e.fields if f.pii] for e in LANDING_ENTITIES}
    found.update({t.name: [c.name for c in t.pii_columns] for t in ALL_TABLES})
    return {name: columns for name, columns in sorted(found.items()) if columns}


def _zone(bucket: Resource) -> str | None:
    match = _ZONE.search(bucket.name)
    return match.group(1).lower() if match else None


def _bucket_key(assembly: Assembly, bucket: Resource, keys: Sequence[Guarded]) -> Guarded | None:
    rules = bucket.properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    for rule in rules:
        key_id = str(
            assembly.resolve(rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID"), bucket.stack)
        )
        for key in keys:
            if key_id in (arn_of(key.resource), key.resource.token):
                return key
    return None


def _bucket_row(bucket: Guarded, principals: Sequence[Principal], key: Guarded | None) -> dict[str, Any]:
    read = {p.name: object_scopes(bucket, p, READ) for p in principals}
    write = {p.name: object_scopes(bucket, p, WRITE) for p in principals}
    zone = _zone(bucket.resource)
    prefixes = []
    for prefix, table in table_prefixes(zone).items() if zone else ():
        row: dict[str, Any] = {"prefix": prefix, "table": table}
        for verb, actions in (("read", READ), ("write", WRITE)):
            row[verb] = {p.name: a for p in principals if (a := prefix_access(bucket, p, actions, prefix))}
        prefixes.append(row)
    return {
        "bucket": bucket.resource.name,
        "zone": zone,
        "key": key.resource.name if key else None,
        "read": {n: s for n, s in read.items() if s},
        "write": {n: s for n, s in write.items() if s},
        "prefixes": prefixes,
    }


def _lake_formation(assembly: Assembly, roles: Sequence[Principal]) -> list[dict[str, Any]]:
    """The Lake Formation grants: principal, permissions, and the resource or the tag expression."""
    grants = []
    for grant in assembly.resources("AWS::LakeFormation::PrincipalPermissions"):
        props = assembly.resolve(grant.properties, grant.stack)
        who = str(props.get("Principal", {}).get("DataLakePrincipalIdentifier"))
        resource = props.get("Resource", {})
        policy = resource.get("LFTagPolicy", {})
        grants.append(
            {
                "principal": next((r.name for r in roles if r.named_by(who)), who),
                "permissions": sorted(props.get("Permissions", [])),
                "resource": policy.get("ResourceType", "") + " where tags" if policy else " ".join(sorted(resource)),
                "tags": {e["TagKey"]: sorted(e["TagValues"]) for e in policy.get("Expression", [])},
                "table": _granted_table(resource),
            }
        )
    return sorted(grants, key=lambda g: (g["principal"], g["resource"]))


def _granted_table(resource: dict[str, Any]) -> str | None:
    """``database/table`` of a grant on one table (any columns), ``database/*`` on all its tables."""
    table = resource.get("Table") or resource.get("TableWithColumns")
    if not table:
        return None
    return f"{table.get('DatabaseName')}/{table.get('Name') or '*'}"


def _column_tags(assembly: Assembly) -> dict[str, str]:
    """``database`` / ``database/table`` / ``database/table/column`` -> its ``classification`` value."""
    tags: dict[str, str] = {}
    for association in assembly.resources("AWS::LakeFormation::TagAssociation"):
        props = assembly.resolve(association.properties, association.stack)
        values = [v for t in props.get("LFTags", []) if t["TagKey"] == LF_TAG_KEY for v in t["TagValues"]]
        resource = props.get("Resource", {})
        if not values:
            continue
        if "Database" in resource:
            tags[resource["Database"]["Name"]] = values[0]
        for kind in ("Table", "TableWithColumns"):
            table = resource.get(kind)
            if table:
                base = f"{table['DatabaseName']}/{table['Name']}"
                for column in table.get("ColumnNames") or [None]:
                    tags[f"{base}/{column}" if column else base] = values[0]
    return tags


def _glue_tables(assembly: Assembly) -> dict[str, str]:
    """``<zone>.<table>`` -> ``database/table`` of every Glue table in the templates."""
    found = {}
    for table in assembly.resources("AWS::Glue::Table"):
        props = assembly.resolve(table.properties, table.stack)
        database, name = str(props.get("DatabaseName")), str(props.get("TableInput", {}).get("Name"))
        zone = _ZONE.search(database)
        if zone:
            found[f"{zone.group(1).lower()}.{name}"] = f"{database}/{name}"
    return found


def _lake_formation_readers(
    location: str, columns: Sequence[str], tags: dict[str, str], grants: Sequence[dict[str, Any]]
) -> list[str]:
    """Who may SELECT one of ``columns`` of the Glue table at ``database/table``."""
    database = location.split("/", 1)[0]
    effective = {tags.get(f"{location}/{c}") or tags.get(location) or tags.get(database) for c in columns}
    readers = set()
    for g in grants:
        if "SELECT" not in g["permissions"] and "ALL" not in g["permissions"]:
            continue
        by_tag = bool(effective & set(g["tags"].get(LF_TAG_KEY, [])))
        by_table = g["table"] in (location, f"{database}/*")
        if by_tag or by_table:
            readers.add(g["principal"])
    return sorted(readers)


def _pii_reach(
    assembly: Assembly,
    rows: Sequence[dict[str, Any]],
    decrypters: dict[str, list[str]],
    grants: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Per personal table: who reads its files and decrypts them, who selects its pii columns in Lake Formation."""
    glue_tables, tags = _glue_tables(assembly), _column_tags(assembly)
    reach = []
    for table, columns in personal_tables().items():
        files: set[str] = set()
        locations = []
        for row in rows:
            for prefix in row["prefixes"]:
                if prefix["table"] == table:
                    locations.append(f"{row['bucket']}/{prefix['prefix']}")
                    readers = {n for n, a in prefix["read"].items() if a == "full"}
                    files |= readers & set(decrypters.get(row["key"] or "", []))
        glue = glue_tables.get(table)
        lake_formation = _lake_formation_readers(glue, columns, tags, grants) if glue else []
        reach.append(
            {
                "table": table,
                "columns": columns,
                "locations": sorted(locations),
                "read_and_decrypt": sorted(files),
                "lake_formation_select": lake_formation,
            }
        )
    return reach


def review(assembly: Assembly, env: str) -> dict[str, Any]:
    """The whole matrix of one environment (JSON-ready, sorted, so a change shows as a small diff)."""
    roles = _roles(assembly)
    buckets, keys = _guarded(assembly)
    principals = [*roles, *_others([*buckets, *keys], roles)]
    decrypters = {k.resource.name: key_decrypters(k, principals) for k in keys}
    rows = [_bucket_row(b, principals, _bucket_key(assembly, b.resource, keys)) for b in buckets]
    grants = _lake_formation(assembly, roles)
    return {
        "environment": env,
        "principals": {
            p.name: {"kind": p.kind, "assumed_by": p.assumed_by, "not_evaluated": sorted(p.unevaluated)}
            for p in sorted(principals, key=lambda p: p.name)
        },
        "buckets": sorted(rows, key=lambda r: r["bucket"]),
        "keys": [{"key": name, "decrypt": who} for name, who in sorted(decrypters.items())],
        "lake_formation": grants,
        "pii": _pii_reach(assembly, rows, decrypters, grants),
    }
