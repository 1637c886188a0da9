"""``lakehouse kms status|enable|cancel-deletion``: the environment's KMS keys (runbooks/kms-key-disabled.md).

The keys are the ones the stacks create, found by their aliases (:func:`platform_model.aws_names.kms_alias`):
one per lake layer (``landing``, ``bronze``, ``silver``, ``gold``), ``artifacts``, ``ops``, ``audit`` and
``alerts`` in the environment's region, ``replica`` and ``replica-<layer>`` in the DR region (``--dr-region``).
What depends on each is read from the resources themselves (the encryption of the lake buckets named by the
deployment parameter, of the replica buckets, the queues, the alert topic, the DynamoDB tables and the backup
vaults), so the answer is what is deployed, not what the code meant to deploy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from job_assets.contracts.layout import ZONES
from platform_model import aws_names

from .guard import Confirm, Deployed, GuardError, aws_error, when


@dataclass
class KeyStatus:
    """One key of the environment as KMS describes it, and the resources encrypted with it."""

    role: str
    alias: str
    region: str
    key_id: str = ""
    arn: str = ""
    state: str = "NotFound"
    rotation: bool | None = None
    deletion_date: str = ""
    last_rotation: str = ""
    dependents: list[str] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        """Every way a resource may name this key: id, ARN, alias, alias ARN."""
        alias_arn = self.arn.split(":key/")[0] + f":{self.alias}" if self.arn else ""
        return {n for n in (self.key_id, self.arn, self.alias, alias_arn) if n}


def _describe(kms: Any, key: KeyStatus) -> None:
    try:
        meta = kms.describe_key(KeyId=key.alias)["KeyMetadata"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotFoundException":
            return
        raise
    key.key_id, key.arn, key.state = meta["KeyId"], meta["Arn"], meta["KeyState"]
    key.deletion_date = when(meta.get("DeletionDate"))
    if key.state in ("Enabled", "Disabled"):  # KMS answers rotation only for these states
        key.rotation = bool(kms.get_key_rotation_status(KeyId=key.key_id).get("KeyRotationEnabled"))
    rotations = kms.list_key_rotations(KeyId=key.key_id).get("Rotations", []) if key.state == "Enabled" else []
    key.last_rotation = max((when(r.get("RotationDate")) for r in rotations), default="")


def keys(target: Deployed, dr_region: str | None = None) -> list[KeyStatus]:
    """The environment's keys (the replica key only with ``dr_region``), described, without dependents."""
    found = []
    for role in aws_names.KMS_KEY_ROLES:
        in_dr = role in aws_names.DR_KEY_ROLES
        if in_dr and not dr_region:
            continue
        region = dr_region if in_dr else target.session.region_name
        key = KeyStatus(role=role, alias=aws_names.kms_alias(target.env, role, target.project), region=region or "")
        try:
            _describe(target.client("kms", region), key)
        except (BotoCoreError, ClientError) as error:
            raise aws_error(error, target.env, f"DescribeKey {key.alias}") from error
        found.append(key)
    if all(k.state == "NotFound" for k in found):
        raise GuardError(
            f"--env {target.env}: no key alias/{target.prefix}-* in {target.session.region_name}: is the "
            "environment deployed in this account and region? (--region and --project select another)"
        )
    return found


def _bucket_keys(s3: Any, buckets: dict[str, str]) -> Iterator[tuple[str, str]]:
    for label, bucket in buckets.items():
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        except ClientError:
            continue  # not deployed here (a replica without replication), or no encryption to report
        for rule in rules:
            key = rule.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
            if key:
                yield f"bucket {bucket} ({label})", key


def _lake_buckets(target: Deployed) -> dict[str, str]:
    from ..landing.deleted import RecoverError, layer_location

    buckets = {}
    for layer in ZONES:
        try:
            buckets[layer] = layer_location(target.env, layer, project=target.project, session=target.session)[0]
        except RecoverError:
            return buckets  # no deployment parameter: the buckets cannot be named
    return buckets


def _queue_keys(target: Deployed) -> Iterator[tuple[str, str]]:
    sqs = target.client("sqs")
    names = (
        aws_names.intake_queue_name(target.env, target.project),
        aws_names.intake_dlq_name(target.env, target.project),
        aws_names.failed_events_queue_name(target.env, target.project),
    )
    for name in names:
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            key = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"]
        except ClientError:
            continue
        if key.get("KmsMasterKeyId"):
            yield f"queue {name}", key["KmsMasterKeyId"]


def _other_keys(target: Deployed) -> Iterator[tuple[str, str]]:
    """The alert topic, the DynamoDB tables and the backup vault of the environment's region."""
    topic = aws_names.alert_topic_name(target.env, target.project)
    vault = aws_names.backup_vault_name(target.env, target.project)
    sns, dynamodb, backup = target.client("sns"), target.client("dynamodb"), target.client("backup")
    topic_arn = target.alert_topic_arn
    reads = {
        f"topic {topic}": lambda: sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"].get("KmsMasterKeyId"),
        f"backup vault {vault}": lambda: backup.describe_backup_vault(BackupVaultName=vault).get("EncryptionKeyArn"),
    }
    for table in (
        aws_names.promotions_table_name(target.env, target.project),
        aws_names.intake_manifest_table_name(target.env, target.project),
    ):
        reads[f"table {table}"] = lambda t=table: (
            dynamodb.describe_table(TableName=t)["Table"].get("SSEDescription", {}).get("KMSMasterKeyArn")
        )
    for label, read in reads.items():
        try:
            key = read()
        except ClientError:
            continue  # not deployed (yet) in this environment
        if key:
            yield label, key


def _dr_keys(target: Deployed, dr_region: str) -> Iterator[tuple[str, str]]:
    replicas = {
        f"{layer} replica": aws_names.replica_bucket_name(
            target.env, layer, account=target.account, dr_region=dr_region, project=target.project
        )
        for layer in ZONES
    }
    yield from _bucket_keys(target.client("s3", dr_region), replicas)


def attach_dependents(target: Deployed, found: list[KeyStatus], dr_region: str | None) -> None:
    """Fill each key's ``dependents``: the resources whose encryption names it."""
    buckets = _lake_buckets(target)
    try:
        artifacts = _artifacts_bucket(target)
        if artifacts:
            buckets["artifacts"] = artifacts
        buckets["audit"] = aws_names.audit_bucket_name(
            target.env, account=target.account, region=target.session.region_name, project=target.project
        )
        references = [*_bucket_keys(target.client("s3"), buckets), *_queue_keys(target), *_other_keys(target)]
        if dr_region:
            references += list(_dr_keys(target, dr_region))
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, "reading the resources' encryption") from error
    for label, reference in references:
        for key in found:
            if reference in key.names or (key.key_id and reference.endswith(f"/{key.key_id}")):
                key.dependents.append(label)


def _artifacts_bucket(target: Deployed) -> str:
    from ..promotion import AwsControl, PromotionError

    try:
        uri = str(AwsControl(target.env, project=target.project, session=target.session).deployment()["artifacts_uri"])
    except (PromotionError, KeyError):
        return ""
    return uri.removeprefix("s3://").split("/", 1)[0]


def _table(found: list[KeyStatus], env: str) -> Table:
    table = Table(title=f"KMS keys of {env}")
    for column in ("key", "region", "state", "rotation", "last rotation", "deletion date", "encrypts"):
        table.add_column(column, overflow="fold")
    for k in found:
        state = k.state if k.state == "Enabled" else f"[bold red]{k.state}[/]"
        rotation = {True: "on", False: "[bold red]off[/]", None: "?"}[k.rotation]
        table.add_row(
            k.alias, k.region, state, rotation, k.last_rotation, k.deletion_date, "\n".join(k.dependents) or "-"
        )
    return table


def status(target: Deployed, *, dr_region: str | None = None, console: Console) -> int:
    """Each key's state, rotation, deletion date and dependents; 1 when a key is not Enabled."""
    found = keys(target, dr_region)
    attach_dependents(target, found, dr_region)
    console.print(_table(found, target.env))
    no_dr = [k for k in found if k.role in aws_names.DR_KEY_ROLES and k.state == "NotFound"]
    for k in no_dr:  # without features.replication there is no DR stack, hence no replica key
        console.print(f"no {k.alias} in {k.region}: the environment has no DR stack there (or the key is deleted)")
    broken = [k for k in found if k.state != "Enabled" and k not in no_dr]
    for k in broken:
        fix = "cancel-deletion" if k.state == "PendingDeletion" else "enable"
        hint = (
            f"`lakehouse kms {fix} {k.role} --env {target.env}`"
            if k.state != "NotFound"
            else "it is gone: the stack that owns it creates a new key on its next deploy, but data under the old "
            "key is unreadable (docs/runbooks/BACKUP_AND_RESTORE.md)"
        )
        console.print(f"[bold red]{k.alias}[/] is {k.state}: {len(k.dependents)} resource(s) cannot use it; {hint}")
    if not broken:
        console.print(f"all {len(found) - len(no_dr)} keys of {target.env} are Enabled")
    return 1 if broken else 0


def resolve(target: Deployed, key: str, dr_region: str | None) -> KeyStatus:
    """The environment's key named ``key`` (role, alias, key id or ARN); any other key is refused."""
    found = keys(target, dr_region)
    for k in found:
        if k.state != "NotFound" and key in (k.role, *k.names):
            return k
    known = ", ".join(f"{k.role} ({k.alias})" for k in found if k.state != "NotFound")
    hint = "; the replica key is in the DR region: pass --dr-region" if not dr_region and "replica" in key else ""
    raise GuardError(f"KEY {key!r}: not a key of environment {target.env}; its keys: {known}{hint}")


def _kms(target: Deployed, key: KeyStatus) -> Any:
    return target.client("kms", key.region)


def _change(
    target: Deployed,
    k: KeyStatus,
    operation: str,
    *,
    question: str,
    refused: str,
    done: str,
    confirm: Confirm,
    console: Console,
) -> int:
    """Ask ``question``, then call KMS ``operation`` (e.g. ``EnableKey``) on the key and print ``done``;
    1 with ``refused`` when not confirmed; an AWS error as one line."""
    if not confirm(question):
        console.print(f"{refused}: nothing changed")
        return 1
    method = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
    try:
        getattr(_kms(target, k), method)(KeyId=k.key_id)
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, target.env, f"{operation} {k.alias}") from error
    console.print(done)
    return 0


def enable(target: Deployed, key: str, *, dr_region: str | None = None, confirm: Confirm, console: Console) -> int:
    """Enable a disabled key of the environment (a key pending deletion needs ``cancel-deletion`` first)."""
    k = resolve(target, key, dr_region)
    if k.state == "Enabled":
        console.print(f"{k.alias} is already Enabled: nothing to do")
        return 0
    if k.state == "PendingDeletion":
        raise GuardError(
            f"KEY {key!r}: {k.alias} is pending deletion (on {k.deletion_date} UTC): cancel it first with "
            f"`lakehouse kms cancel-deletion {k.role} --env {target.env}`; nothing changed"
        )
    if k.state != "Disabled":
        raise GuardError(f"KEY {key!r}: {k.alias} is {k.state}: only a Disabled key can be enabled; nothing changed")
    return _change(
        target,
        k,
        "EnableKey",
        question=f"Enable {k.alias} ({k.key_id}) in {k.region}?",
        refused="not enabled",
        done=f"[bold green]enabled[/] {k.alias} ({k.key_id}) in {k.region}",
        confirm=confirm,
        console=console,
    )


def cancel_deletion(
    target: Deployed, key: str, *, dr_region: str | None = None, confirm: Confirm, console: Console
) -> int:
    """Cancel the scheduled deletion of a key of the environment; KMS leaves it Disabled (enable it next)."""
    k = resolve(target, key, dr_region)
    if k.state != "PendingDeletion":
        console.print(f"{k.alias} is {k.state}, not pending deletion: nothing to cancel")
        return 0
    return _change(
        target,
        k,
        "CancelKeyDeletion",
        question=f"Cancel the deletion of {k.alias} ({k.key_id}), scheduled for {k.deletion_date} UTC?",
        refused="deletion not cancelled",
        done=f"[bold green]deletion cancelled[/] for {k.alias}: it is Disabled now; enable it with "
        f"`lakehouse kms enable {k.role} --env {target.env}`",
        confirm=confirm,
        console=console,
    )


def enable_rotation(
    target: Deployed, key: str, *, dr_region: str | None = None, confirm: Confirm, console: Console
) -> int:
    """Turn yearly rotation back on for a key of the environment (the stacks create every key with it on; a
    redeploy does not undo a change made outside CloudFormation, so this does)."""
    k = resolve(target, key, dr_region)
    if k.rotation:
        console.print(f"{k.alias}: rotation is on already: nothing to do")
        return 0
    if k.state != "Enabled":
        raise GuardError(f"KEY {key!r}: {k.alias} is {k.state}: enable it first; nothing changed")
    return _change(
        target,
        k,
        "EnableKeyRotation",
        question=f"Turn on automatic rotation of {k.alias} ({k.key_id}) in {k.region}?",
        refused="rotation not turned on",
        done=f"[bold green]rotation on[/] for {k.alias} ({k.key_id}) in {k.region}",
        confirm=confirm,
        console=console,
    )
