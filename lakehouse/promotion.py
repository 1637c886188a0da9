"""Blue/green promotion with write-audit-publish (docs/PROMOTION.md).

An environment has two slots, blue and green. Each names a job-assets version (the content hash of the
package, ``cdk/packaging.py``) and owns a gold folder (``<gold>/<slot>/``); the *active* slot is the one
the pipeline runs and readers read. ``promote`` writes the candidate version to the inactive slot, runs its
gold job into the audit location (``<gold>/audit/``: shadow gold, neither slot), compares the shadow with
the published gold (gates), and only when every gate passes moves the shadow into the inactive slot and
flips the active slot: one atomic write of the slots document (locally ``<lake>/_control/slots.json``; on
AWS the SSM parameter the state machines read at the start of every execution). Otherwise the document is
written back as it was. ``rollback`` flips back.

Two control planes implement the same few operations: :class:`LocalControl` (files under the lake) and
:class:`AwsControl` (SSM, DynamoDB, Glue, S3). Two auditors run a version's gold job: :class:`LocalAuditor`
(a subprocess with the version's archive on ``PYTHONPATH``) and :class:`AwsAuditor` (an EMR Serverless job
run started like the pipeline starts it).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from cdk import aws_names
from job_assets.context import CONTROL_DIR, SLOTS, SLOTS_FILE, ZONES
from job_assets.contracts import GOLD_TABLES
from job_assets.contracts.gold import KEY_METRICS

AUDIT_JOB = "gold"
AUDIT_DIR = aws_names.AUDIT_PREFIX.rstrip("/")
log = logging.getLogger("lakehouse.promotion")
CONTRACT_RULES = frozenset((c.name, r.name) for c in GOLD_TABLES for r in c.rules)
"""The gold rules the ``dq rules`` gate judges: the contracts' own (not profiling's ``profile:*`` warnings)."""
DQ_REFUSAL = "data quality failure in "
"""How a job's refusal by a ``fail`` rule starts (``job_assets.dq.DataQualityError``)."""
LOCK_TTL_SECONDS = 6 * 3600
"""A lock older than this is stale (the audit job's timeout is far shorter)."""


class PromotionError(Exception):
    """A promotion or rollback that cannot go ahead: one clear line for the operator (exit 2)."""


class LockedError(PromotionError):
    """Another promotion or rollback holds the environment's lock."""


# --- the slots document ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotState:
    """The slots document: which slot is published and which version each slot runs.

    ``slots[s] == ""`` means "the deployed version" (nobody promoted to this slot yet). ``rollback`` is the
    slot whose gold was published before and is still intact, or ``None`` (nothing published yet, or a
    promotion in progress).
    """

    active: str
    slots: Mapping[str, str]
    rollback: str | None = None
    updated_at: str = ""
    updated_by: str = ""
    change: str = ""

    @property
    def inactive(self) -> str:
        return next(s for s in SLOTS if s != self.active)

    def version(self, slot: str, deployed: str) -> str:
        return self.slots.get(slot) or deployed

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"slots": dict(self.slots)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> SlotState:
        try:
            raw = json.loads(text)
        except ValueError as error:
            raise PromotionError(f"{source}: not JSON ({error})") from None
        if not isinstance(raw, dict) or raw.get("active") not in SLOTS:
            raise PromotionError(f"{source}: 'active' must be one of {', '.join(SLOTS)}, got {raw!r:.200}")
        slots = raw.get("slots")
        if (
            not isinstance(slots, dict)
            or set(slots) != set(SLOTS)
            or not all(isinstance(v, str) for v in slots.values())
        ):
            raise PromotionError(f"{source}: 'slots' must map {' and '.join(SLOTS)} to version strings, got {slots!r}")
        rollback = raw.get("rollback")
        if rollback not in (None, *SLOTS) or rollback == raw["active"]:
            raise PromotionError(f"{source}: 'rollback' must be the inactive slot or null, got {rollback!r}")
        return cls(
            active=raw["active"],
            slots=dict(slots),
            rollback=rollback,
            updated_at=str(raw.get("updated_at", "")),
            updated_by=str(raw.get("updated_by", "")),
            change=str(raw.get("change", "")),
        )


INITIAL_STATE = SlotState(active=SLOTS[0], slots={s: "" for s in SLOTS})


# --- records -----------------------------------------------------------------------------------------


@dataclass
class Gate:
    name: str
    passed: bool
    detail: str
    published: float | None = None
    candidate: float | None = None
    change_pct: float | None = None
    limit_pct: float | None = None


@dataclass
class Record:
    """One promotion or rollback, as ``lakehouse promotions`` lists it."""

    id: str
    env: str
    action: str  # promote | rollback
    version: str
    from_slot: str
    to_slot: str
    actor: str
    started_at: str
    ended_at: str = ""
    result: str = ""  # published | refused | rolled-back | failed
    message: str = ""
    previous_version: str = ""
    source_env: str = ""
    gates: list[dict[str, Any]] = field(default_factory=list)
    previous_state: str = ""
    """The slots document before a promotion (``lakehouse promotions --recover`` restores it)."""


@dataclass
class AuditRun:
    ok: bool
    batch_id: str
    summary: dict[str, Any]
    """The gold job's run summary (its JSON line), or ``{"status": "failed", "error": ...}``."""
    log: str = ""
    """Where the job's output is (a file locally, the job run on AWS)."""


def now_iso() -> str:
    """UTC with milliseconds: records sort by it, and two rollbacks can happen within one second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_actor() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


# --- control planes ----------------------------------------------------------------------------------


class Control(Protocol):
    env: str

    def read(self) -> SlotState: ...
    def write(self, state: SlotState) -> None: ...
    def deployed_version(self) -> str: ...
    def gold_uri(self, slot: str) -> str: ...
    def audit_uri(self) -> str: ...
    def clear_audit(self) -> None: ...
    def move_audit_to(self, slot: str) -> None: ...
    def publish_readers(self, slot: str) -> list[str]: ...
    def readers_elsewhere(self, slot: str) -> list[str]: ...
    def lock(self, record: Record) -> Any: ...
    def release_abandoned(self, promotion_id: str) -> bool: ...
    def check_no_writer_running(self) -> None: ...
    def record(self, record: Record) -> None: ...
    def history(self) -> list[Record]: ...
    def storage_options(self) -> dict[str, str] | None: ...
    def table_exists(self, uri: str) -> bool: ...


class LocalControl:
    """The local lake's control plane: ``<lake>/_control/`` holds the slots document (the stand-in for the
    SSM parameter), ``promotions.jsonl`` (history), ``promotion.lock`` and the packaged ``versions/``."""

    def __init__(self, root: Path) -> None:
        self.env = "local"
        self.root = root
        self.dir = root / CONTROL_DIR
        self.slots_path = self.dir / SLOTS_FILE
        self.history_path = self.dir / "promotions.jsonl"
        self.lock_path = self.dir / "promotion.lock"

    def read(self) -> SlotState:
        if not self.slots_path.exists():
            return INITIAL_STATE
        return SlotState.from_json(self.slots_path.read_text(encoding="utf-8"), str(self.slots_path))

    def write(self, state: SlotState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.slots_path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(state.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.slots_path)  # atomic: readers see the old document or the new one

    def deployed_version(self) -> str:
        """Locally "deployed" is the checkout's code: the version ``lakehouse package`` gives it."""
        return checkout_version()

    def gold_uri(self, slot: str) -> str:
        return str(self.root / "gold" / slot)

    def audit_uri(self) -> str:
        return str(self.root / "gold" / AUDIT_DIR)

    def clear_audit(self) -> None:
        shutil.rmtree(self.audit_uri(), ignore_errors=True)

    def move_audit_to(self, slot: str) -> None:
        """The audited gold becomes ``slot``'s gold (the slot is not published: nobody reads it)."""
        shutil.rmtree(self.gold_uri(slot), ignore_errors=True)
        os.rename(self.audit_uri(), self.gold_uri(slot))  # Delta logs hold relative paths: tables move whole

    def publish_readers(self, slot: str) -> list[str]:
        return []  # local readers resolve gold through the slots document itself (LakeLocations.for_root)

    def readers_elsewhere(self, slot: str) -> list[str]:
        return []

    def check_no_writer_running(self) -> None:
        return None  # a local lake has one writer at a time by convention (docs/PIPELINE.md)

    @contextmanager
    def lock(self, record: Record) -> Iterator[None]:
        """An exclusive ``flock`` on ``promotion.lock``: the kernel releases it when its holder exits, so a
        crashed promotion never leaves the lake locked; the file names the holder for whoever is refused."""
        import fcntl

        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder()
                raise LockedError(
                    f"--env local: {holder.get('action', 'a promotion')} {holder.get('id', '(starting)')} by "
                    f"{holder.get('actor', '?')} (pid {holder.get('pid', '?')}) holds {self.lock_path} since "
                    f"{holder.get('started_at', '?')}; wait for it to finish"
                ) from None
            holder = {
                "id": record.id,
                "action": record.action,
                "actor": record.actor,
                "pid": os.getpid(),
                "started_at": record.started_at,
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _holder(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.lock_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return {}

    def release_abandoned(self, promotion_id: str) -> bool:
        """Locally a dead holder's lock is already free (flock); nothing to release."""
        return False

    def record(self, record: Record) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.history_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(record), sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def history(self) -> list[Record]:
        """Every record, the newest state of each (a promotion is written when it starts and when it ends)."""
        if not self.history_path.exists():
            return []
        records: dict[str, Record] = {}
        for number, line in enumerate(self.history_path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = Record(**json.loads(line))
            except (ValueError, TypeError) as error:
                raise PromotionError(f"{self.history_path}:{number}: not a promotion record ({error})") from None
            records[record.id] = record
        return list(records.values())

    def storage_options(self) -> dict[str, str] | None:
        return None

    def table_exists(self, uri: str) -> bool:
        return (Path(uri) / "_delta_log").is_dir()


class AwsControl:
    """An AWS environment's control plane: the slots SSM parameter (which the state machines read), the
    promotions DynamoDB table (history and lock), the gold Glue tables (readers) and the gold bucket."""

    def __init__(self, env: str, *, project: str = aws_names.DEFAULT_PROJECT, session: Any) -> None:
        self.env = env
        self.project = project
        self.session = session
        self.ssm = session.client("ssm")
        self.table = aws_names.promotions_table_name(env, project)
        self.slots_parameter = aws_names.slots_parameter_name(env, project)
        self._deployment: dict[str, Any] | None = None

    def _client_error(self, error: Exception, what: str) -> PromotionError:
        return PromotionError(f"--env {self.env}: {what}: {error}")

    def deployment(self) -> dict[str, Any]:
        if self._deployment is None:
            name = aws_names.deployment_parameter_name(self.env, self.project)
            try:
                value = self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except self.ssm.exceptions.ParameterNotFound:
                raise PromotionError(
                    f"--env {self.env}: SSM parameter {name} not found in {self.session.region_name}: "
                    f"is the environment deployed (cdk deploy -c env={self.env})?"
                ) from None
            try:
                doc = json.loads(value)
                for key in (
                    "version",
                    "application_id",
                    "artifacts_uri",
                    "gold_uri",
                    "job_role_arns",
                    "arguments",
                    "spark_submit_parameters",
                ):
                    doc[key]
            except (ValueError, KeyError, TypeError) as error:
                raise PromotionError(
                    f"--env {self.env}: SSM parameter {name} is not a deployment document ({error!r})"
                ) from None
            self._deployment = doc
        return self._deployment

    def read(self) -> SlotState:
        try:
            value = self.ssm.get_parameter(Name=self.slots_parameter)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            raise PromotionError(
                f"--env {self.env}: SSM parameter {self.slots_parameter} not found in {self.session.region_name}: "
                f"is the environment deployed (cdk deploy -c env={self.env})?"
            ) from None
        return SlotState.from_json(value, f"SSM parameter {self.slots_parameter}")

    def write(self, state: SlotState) -> None:
        self.ssm.put_parameter(Name=self.slots_parameter, Value=state.to_json(), Type="String", Overwrite=True)

    def deployed_version(self) -> str:
        return str(self.deployment()["version"])

    def gold_uri(self, slot: str) -> str:
        return str(self.deployment()["gold_uri"]).rstrip("/") + "/" + aws_names.gold_slot_prefix(slot)

    def audit_uri(self) -> str:
        return str(self.deployment()["gold_uri"]).rstrip("/") + "/" + aws_names.AUDIT_PREFIX

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return bucket, prefix

    def _delete_prefix(self, uri: str) -> None:
        bucket, prefix = self._split(uri)
        s3 = self.session.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})

    def clear_audit(self) -> None:
        self._delete_prefix(self.audit_uri())

    def move_audit_to(self, slot: str) -> None:
        """Copy the audited gold into ``slot`` (unpublished: nobody reads it yet), then drop the audit copy.
        Delta logs hold paths relative to the table, so copied tables are whole tables."""
        target = self.gold_uri(slot)
        self._delete_prefix(target)
        bucket, source_prefix = self._split(self.audit_uri())
        _, target_prefix = self._split(target)
        s3 = self.session.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=source_prefix):
            for item in page.get("Contents", []):
                key = target_prefix + item["Key"][len(source_prefix) :]
                s3.copy({"Bucket": bucket, "Key": item["Key"]}, bucket, key)
        self.clear_audit()

    def check_no_writer_running(self) -> None:
        """Refuse while the pipeline or maintenance runs: its gold would straddle the flip, and the audit
        would be compared with gold built from another silver state."""
        sfn = self.session.client("stepfunctions")
        account = self.session.client("sts").get_caller_identity()["Account"]
        partition = self.session.get_partition_for_region(self.session.region_name)
        for name in (
            aws_names.pipeline_state_machine_name(self.env, self.project),
            aws_names.maintenance_state_machine_name(self.env, self.project),
        ):
            arn = f"arn:{partition}:states:{self.session.region_name}:{account}:stateMachine:{name}"
            try:
                running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=1)["executions"]
            except sfn.exceptions.StateMachineDoesNotExist:
                raise PromotionError(
                    f"--env {self.env}: state machine {name} not found: is the environment deployed?"
                ) from None
            if running:
                raise PromotionError(
                    f"--env {self.env}: {name} execution {running[0]['name']} is running; promote or roll back "
                    "when it has finished (lakehouse pipeline runs --env {env})".replace("{env}", self.env)
                )

    def readers_elsewhere(self, slot: str) -> list[str]:
        """Gold Glue tables not pointing at ``slot`` (a deploy reset them): ``database.table -> location``."""
        glue = self.session.client("glue")
        database = aws_names.gold_database_name(self.env, self.project)
        found = []
        for contract in GOLD_TABLES:
            name = contract.name.split(".", 1)[1]
            try:
                location = glue.get_table(DatabaseName=database, Name=name)["Table"]["StorageDescriptor"]["Location"]
            except glue.exceptions.EntityNotFoundException:
                found.append(f"{database}.{name} -> (missing)")
                continue
            if location != f"{self.gold_uri(slot)}{name}/":
                found.append(f"{database}.{name} -> {location}")
        return found

    def publish_readers(self, slot: str) -> list[str]:
        """Point every gold Glue table at ``slot`` (Athena reads through them). Returns the tables moved."""
        glue = self.session.client("glue")
        database = aws_names.gold_database_name(self.env, self.project)
        moved = []
        for contract in GOLD_TABLES:
            name = contract.name.split(".", 1)[1]
            try:
                table = glue.get_table(DatabaseName=database, Name=name)["Table"]
            except glue.exceptions.EntityNotFoundException:
                raise PromotionError(f"--env {self.env}: Glue table {database}.{name} not found") from None
            location = f"{self.gold_uri(slot)}{name}/"
            descriptor = dict(table["StorageDescriptor"])
            if descriptor.get("Location") == location:
                continue
            descriptor["Location"] = location
            serde = dict(descriptor.get("SerdeInfo", {}))
            if "Parameters" in serde and "path" in serde["Parameters"]:
                serde["Parameters"] = {**serde["Parameters"], "path": location}
                descriptor["SerdeInfo"] = serde
            keep = ("Name", "Description", "Owner", "Retention", "PartitionKeys", "TableType", "Parameters")
            table_input = {k: table[k] for k in keep if k in table} | {"StorageDescriptor": descriptor}
            glue.update_table(DatabaseName=database, TableInput=table_input)
            moved.append(f"{database}.{name}")
        return moved

    @contextmanager
    def lock(self, record: Record) -> Iterator[None]:
        ddb = self.session.client("dynamodb")
        now = int(time.time())
        try:
            ddb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": "lock"},
                    "sk": {"S": "lock"},
                    "id": {"S": record.id},
                    "action": {"S": record.action},
                    "actor": {"S": record.actor},
                    "started_at": {"S": record.started_at},
                    "expires_at": {"N": str(now + LOCK_TTL_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            item = ddb.get_item(TableName=self.table, Key={"pk": {"S": "lock"}, "sk": {"S": "lock"}}).get("Item", {})
            holder = {k: next(iter(v.values())) for k, v in item.items()}
            raise LockedError(
                f"--env {self.env}: {holder.get('action', 'a promotion')} {holder.get('id')} by {holder.get('actor')} "
                f"holds the promotion lock since {holder.get('started_at')}; wait for it to finish"
            ) from None
        except ddb.exceptions.ResourceNotFoundException:
            raise PromotionError(
                f"--env {self.env}: DynamoDB table {self.table} not found: is the environment deployed?"
            ) from None
        try:
            yield
        finally:
            self._release(ddb, record.id)

    def _release(self, ddb: Any, promotion_id: str) -> bool:
        try:
            ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": "lock"}, "sk": {"S": "lock"}},
                ConditionExpression="id = :id",
                ExpressionAttributeValues={":id": {"S": promotion_id}},
            )
            return True
        except ddb.exceptions.ConditionalCheckFailedException:
            return False  # not ours (any more): never delete another holder's lock
        except Exception as error:
            log.warning("could not release the promotion lock %s of %s: %s", promotion_id, self.table, error)
            return False

    def release_abandoned(self, promotion_id: str) -> bool:
        """Delete the lock only if ``promotion_id`` holds it (its process died or was killed)."""
        return self._release(self.session.client("dynamodb"), promotion_id)

    def record(self, record: Record) -> None:
        self.session.client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "pk": {"S": "history"},
                "sk": {"S": f"{record.started_at}#{record.id}"},
                "record": {"S": json.dumps(asdict(record), sort_keys=True)},
                "version": {"S": record.version},
                "result": {"S": record.result},
            },
        )

    def history(self) -> list[Record]:
        ddb = self.session.client("dynamodb")
        records: list[Record] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "history"}},
        }
        try:
            while True:
                page = ddb.query(**kwargs)
                records += [Record(**json.loads(item["record"]["S"])) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return records
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ddb.exceptions.ResourceNotFoundException:
            raise PromotionError(
                f"--env {self.env}: DynamoDB table {self.table} not found: is the environment deployed?"
            ) from None

    def table_exists(self, uri: str) -> bool:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        page = self.session.client("s3").list_objects_v2(
            Bucket=bucket, Prefix=f"{key.rstrip('/')}/_delta_log/", MaxKeys=1
        )
        return bool(page.get("KeyCount"))

    def storage_options(self) -> dict[str, str] | None:
        creds = self.session.get_credentials()
        if creds is None:
            return None
        frozen = creds.get_frozen_credentials()
        options = {
            "AWS_REGION": self.session.region_name,
            "AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        }
        if frozen.token:
            options["AWS_SESSION_TOKEN"] = frozen.token
        endpoint = self.session.client("s3").meta.endpoint_url  # AWS_ENDPOINT_URL(_S3) reaches delta-rs too
        if endpoint and not endpoint.endswith(".amazonaws.com"):
            options["AWS_ENDPOINT_URL"] = endpoint
        return options


# --- versions and auditors ---------------------------------------------------------------------------


def _checkout_packaging() -> Any:
    """``cdk/packaging.py`` of the checkout this CLI runs from (the one CDK deploys with)."""
    repo = Path(__file__).resolve().parent.parent
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from cdk import packaging

    return packaging


def package_dir() -> Path:
    import job_assets

    return Path(job_assets.__file__).resolve().parent


def checkout_version() -> str:
    packaging = _checkout_packaging()
    return packaging.archive_version(packaging.build_archive(package_dir()))


def package(root: Path, source: Path | None = None) -> tuple[str, Path]:
    """Package ``source`` (default: this checkout's ``job_assets``) into the local lake's version store."""
    packaging = _checkout_packaging()
    source = (source or package_dir()).resolve()
    bundle = packaging.bundle_job_assets(source, root / CONTROL_DIR / "versions")
    return bundle.version, bundle.directory


class LocalAuditor:
    """Runs a packaged version's jobs on the local lake in a child process, with its archive first on the
    path: exactly the code EMR would run, never this checkout's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / CONTROL_DIR / "versions"

    def ensure(self, version: str) -> None:
        packaging = _checkout_packaging()
        if not (self.versions / version / packaging.ARCHIVE_NAME).is_file():
            known = (
                sorted(p.name for p in self.versions.iterdir() if p.is_dir() and not p.name.startswith("."))
                if self.versions.is_dir()
                else []
            )
            raise PromotionError(
                f"--version {version}: not in the local version store {self.versions} "
                f"(known: {', '.join(known) or 'none'}); build it with `lakehouse package --lake-root {self.root}`"
            )

    def run_job(
        self,
        version: str,
        job: str,
        *,
        batch_id: str,
        gold_uri: str,
        log: Path,
        flags: Mapping[str, str] | None = None,
        env: str = "local",
        engine: str = "auto",
        lineage: str | None = None,
    ) -> AuditRun:
        packaging = _checkout_packaging()
        bundle = self.versions / version
        archive = bundle / packaging.ARCHIVE_NAME
        script = bundle / packaging.ENTRYPOINTS_DIR / f"{job}.py"
        if not script.is_file():
            raise PromotionError(f"--version {version}: has no {job} entrypoint ({script})")
        arguments = [sys.executable, "-B", str(script)]
        for layer in ZONES:
            uri = gold_uri if layer == "gold" else str(self.root / layer)
            arguments += [f"--{layer}-uri", uri]
        for key, value in sorted((flags or {}).items()):
            arguments += ["--flag", f"{key}={value}"]
        arguments += ["--env", env, "--engine", engine, "--local", "--batch-id", batch_id]
        from job_assets.spark import JARS_DIR_ENV, default_jars_dir

        # the version's code comes from its archive; the jars local Spark needs from this checkout's install
        environ = dict(
            os.environ,
            PYTHONPATH=str(archive),
            LAKEHOUSE_EXPECT_ARCHIVE=str(archive),
            **{JARS_DIR_ENV: str(default_jars_dir())},
        )
        if lineage:  # by environment, not argument: a version that predates --lineage ignores it
            environ["LAKEHOUSE_LINEAGE"] = lineage
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.run(
                arguments, check=False, cwd=bundle, env=environ, stdout=subprocess.PIPE, stderr=out, text=True
            )
            out.write(proc.stdout)
        return AuditRun(
            ok=proc.returncode == 0,
            batch_id=batch_id,
            summary=_summary_line(proc.stdout, proc.returncode),
            log=str(log),
        )

    def run(self, version: str, *, slot_uri: str, batch_id: str) -> AuditRun:
        return self.run_job(
            version,
            AUDIT_JOB,
            batch_id=batch_id,
            gold_uri=slot_uri,
            log=self.root / CONTROL_DIR / "audits" / f"{batch_id}.log",
        )


def _summary_line(stdout: str, returncode: int) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "status" in doc and "job" in doc:
            return doc
    return {"status": "failed", "error": f"the job exited with {returncode} and printed no run summary"}


class AwsAuditor:
    """Starts the version's gold job on the environment's EMR Serverless application, as the pipeline does,
    with ``--gold-uri`` on the audit location, and waits for it."""

    def __init__(self, control: AwsControl, *, poll_seconds: float = 20.0, timeout_seconds: float = 4 * 3600) -> None:
        self.control = control
        self.emr = control.session.client("emr-serverless")
        self.s3 = control.session.client("s3")
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    def _artifact(self, version: str, key: str) -> tuple[str, str]:
        uri = str(self.control.deployment()["artifacts_uri"]).rstrip("/") + f"/{version}/{key}"
        bucket, _, path = uri.removeprefix("s3://").partition("/")
        return bucket, path

    def ensure(self, version: str) -> None:
        bucket, key = self._artifact(version, "job_assets.zip")
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.ClientError:
            raise PromotionError(
                f"--version {version}: s3://{bucket}/{key} not found; "
                f"versions are shipped by `cdk deploy -c env={self.control.env}`"
            ) from None

    def run(self, version: str, *, slot_uri: str, batch_id: str) -> AuditRun:
        d = self.control.deployment()
        bucket, key = self._artifact(version, f"entrypoints/{AUDIT_JOB}.py")
        arguments = list(d["arguments"])
        if "--metrics" in arguments:  # an audit is not production: no alarms or dashboards from its figures
            arguments[arguments.index("--metrics") + 1] = "none"
        arguments += ["--gold-uri", slot_uri, "--batch-id", batch_id]
        started = self.emr.start_job_run(
            applicationId=d["application_id"],
            executionRoleArn=d["job_role_arns"][AUDIT_JOB],
            name=f"audit-{AUDIT_JOB}-{batch_id}",
            clientToken=batch_id,
            jobDriver={
                "sparkSubmit": {
                    "entryPoint": f"s3://{bucket}/{key}",
                    "entryPointArguments": arguments,
                    "sparkSubmitParameters": str(d["spark_submit_parameters"]).replace("{version}", version),
                }
            },
            tags={"Job": AUDIT_JOB, "Purpose": "promotion-audit", "Version": version, "Slot": "audit"},
        )
        run_id = started["jobRunId"]
        deadline = time.time() + self.timeout_seconds
        state, run = "SUBMITTED", {}
        try:
            while True:
                run = self.emr.get_job_run(applicationId=d["application_id"], jobRunId=run_id)["jobRun"]
                state = run["state"]
                if state in ("SUCCESS", "FAILED", "CANCELLED"):
                    break
                if time.time() > deadline:
                    state = "TIMED OUT"
                    break
                time.sleep(self.poll_seconds)
        finally:
            if state not in ("SUCCESS", "FAILED", "CANCELLED"):  # timed out, interrupted, or an AWS error
                try:
                    self.emr.cancel_job_run(applicationId=d["application_id"], jobRunId=run_id)
                except Exception as error:
                    log.warning("could not cancel audit job run %s: %s", run_id, error)
        where = f"EMR Serverless job run {run_id} of application {d['application_id']}"
        if state != "SUCCESS":
            return AuditRun(
                False, batch_id, {"status": "failed", "error": f"{state}: {run.get('stateDetails', '')}"}, where
            )
        return AuditRun(True, batch_id, {"status": "succeeded"}, where)


# --- gates -------------------------------------------------------------------------------------------


def _read(control: Any, uri: str, columns: Sequence[str] | None = None) -> Any:
    """A Delta table as Arrow, or None when there is no table at ``uri``."""
    from deltalake import DeltaTable

    if not control.table_exists(uri):
        return None
    table = DeltaTable(uri, storage_options=control.storage_options())
    from job_assets.engine.delta_rs import arrow_table

    return arrow_table(table, columns)


def _sum(table: Any, column: str) -> float | None:
    import pyarrow.compute as pc

    return None if table is None else float(pc.sum(table[column]).as_py() or 0)


def _change_pct(published: float, candidate: float) -> float:
    if published == 0:
        return 0.0 if candidate == 0 else 100.0
    return abs(candidate - published) / abs(published) * 100.0


def evaluate_gates(
    audit: AuditRun,
    *,
    published_uri: str,
    candidate_uri: str,
    thresholds: Any,
    control: Control,
) -> list[Gate]:
    """Audit run, DQ rules, row counts per gold table, key metrics: candidate (shadow) vs published."""
    error = str(audit.summary.get("error", "the gold job failed"))
    if not audit.ok and error.startswith(DQ_REFUSAL):
        return [
            Gate("audit run", True, "the gold job ran; a fail-severity rule refused its write"),
            Gate("dq rules", False, error),
        ]
    gates = [
        Gate(
            "audit run",
            audit.ok and audit.summary.get("status") == "succeeded",
            "the gold job succeeded" if audit.ok else error,
        )
    ]
    if not gates[0].passed:
        return gates

    def rules(uri: str, batch: str | None) -> dict[str, int] | None:
        table = _read(control, f"{uri}/dq_results")
        if table is None or table.num_rows == 0:
            return None
        rows = table.to_pylist()
        batch = batch or max(r["batch_id"] for r in rows)
        return {
            f"{r['table_name']}:{r['rule']}": int(r["failed"])
            for r in rows
            if r["batch_id"] == batch and (r["table_name"], r["rule"]) in CONTRACT_RULES
        }

    candidate_rules = rules(candidate_uri, None) or {}  # the audit location was cleared: only the audit wrote it
    published_rules = rules(published_uri, None) or {}
    failing = {k: v for k, v in candidate_rules.items() if v}
    new = sorted(k for k in failing if not published_rules.get(k))
    gates.append(
        Gate(
            "dq rules",
            bool(candidate_rules) and not failing,
            (
                f"{len(candidate_rules)} rules, all passed"
                if candidate_rules and not failing
                else "no DQ results for the audit batch"
                if not candidate_rules
                else "failing: "
                + ", ".join(f"{k} ({v} rows{', new' if k in new else ''})" for k, v in sorted(failing.items()))
            ),
            published=float(sum(1 for v in published_rules.values() if v)),
            candidate=float(len(failing)),
        )
    )

    limit_rows = float(thresholds.max_row_count_change_pct)
    sums: dict[str, tuple[float | None, float | None]] = {}
    for contract in GOLD_TABLES:
        name = contract.name.split(".", 1)[1]
        columns = sorted({m.column for m in KEY_METRICS.values() if m.table == contract.name}) or [contract.keys[0]]
        published = _read(control, f"{published_uri}/{name}", columns)
        candidate = _read(control, f"{candidate_uri}/{name}", columns)
        for m in KEY_METRICS.values():
            if m.table == contract.name:
                sums[m.name] = (_sum(published, m.column), _sum(candidate, m.column))
        if candidate is None:
            gates.append(Gate(f"rows {name}", False, "the audit wrote no table"))
            continue
        if published is None:
            gates.append(
                Gate(
                    f"rows {name}",
                    True,
                    "nothing published yet: nothing to compare",
                    candidate=float(candidate.num_rows),
                )
            )
            continue
        change = _change_pct(published.num_rows, candidate.num_rows)
        gates.append(
            Gate(
                f"rows {name}",
                change <= limit_rows,
                f"{published.num_rows:,} -> {candidate.num_rows:,}",
                float(published.num_rows),
                float(candidate.num_rows),
                round(change, 3),
                limit_rows,
            )
        )
    for metric_name, (published_value, candidate_value) in sums.items():
        limit = float(thresholds.metric_change_pct.get(metric_name, thresholds.max_metric_change_pct))
        if candidate_value is None:
            gates.append(Gate(f"metric {metric_name}", False, "the audit wrote no value"))
        elif published_value is None:
            gates.append(Gate(f"metric {metric_name}", True, "nothing published yet", candidate=candidate_value))
        else:
            change = _change_pct(published_value, candidate_value)
            gates.append(
                Gate(
                    f"metric {metric_name}",
                    change <= limit,
                    f"{published_value:,.2f} -> {candidate_value:,.2f}",
                    published_value,
                    candidate_value,
                    round(change, 3),
                    limit,
                )
            )
    return gates


# --- the operations ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    record: Record
    gates: list[Gate]
    state: SlotState


def _new_id(action: str) -> str:
    return f"{action[:4]}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


def promote(
    control: Control,
    auditor: Any,
    version: str,
    *,
    thresholds: Any,
    actor: str,
    source_env: str = "",
    confirm: Any = None,
) -> Outcome:
    """Write-audit-publish ``version`` into ``control``'s environment (see the module docstring).

    ``confirm(record, gates) -> bool`` is asked after the gates passed and before publishing. Until the
    flip nothing readers see changes, and a refusal, a cancellation or an error puts the slots document
    back exactly as it was (the inactive slot's gold, the rollback target, is never touched before publish).
    """
    auditor.ensure(version)
    record = Record(
        id=_new_id("promote"),
        env=control.env,
        action="promote",
        version=version,
        from_slot="",
        to_slot="",
        actor=actor,
        started_at=now_iso(),
        source_env=source_env,
    )
    with control.lock(record):
        control.check_no_writer_running()
        state = control.read()
        deployed = control.deployed_version()
        active_version = state.version(state.active, deployed)
        if version == active_version:
            raise PromotionError(
                f"--version {version}: already the active version of --env {control.env} (slot {state.active})"
            )
        target = state.inactive
        record.from_slot, record.to_slot, record.previous_version = state.active, target, active_version
        record.previous_state, record.result = state.to_json(), "in-progress"
        control.record(record)  # an interrupted promotion is on record, with the document to restore
        staged = replace(
            state,
            slots={state.active: active_version, target: version},
            rollback=None,  # no rollback to a slot whose version is being replaced
            updated_at=now_iso(),
            updated_by=actor,
            change=f"{record.id}: auditing {version} for {target}",
        )
        flipped = moving = False
        final = state
        try:
            # 1. the candidate is written to the inactive slot (the active one pinned: "" would follow deploys)
            control.write(staged)
            # 2. audit: the candidate's gold job writes the audit location, never a slot readers can see
            control.clear_audit()
            audit = auditor.run(version, slot_uri=control.audit_uri(), batch_id=f"audit-{record.id}")
            # 3. gates
            gates = evaluate_gates(
                audit,
                published_uri=control.gold_uri(state.active).rstrip("/"),
                candidate_uri=control.audit_uri().rstrip("/"),
                thresholds=thresholds,
                control=control,
            )
            record.gates = [asdict(g) for g in gates]
            passed = all(g.passed for g in gates)
            if passed and confirm is not None and not confirm(record, gates):
                passed, record.result, record.message = False, "cancelled", "not confirmed by the operator"
            elif not passed:
                record.result = "refused"
                record.message = "; ".join(f"{g.name}: {g.detail}" for g in gates if not g.passed)
            if passed:
                # 4. publish: the audited gold becomes the inactive slot's, then one write flips the active slot
                moving = True  # from here the inactive slot's previous gold (the rollback target) is replaced
                control.move_audit_to(target)
                final = replace(
                    staged,
                    active=target,
                    rollback=state.active,
                    updated_at=now_iso(),
                    change=f"{record.id}: published {version} in {target}",
                )
                control.write(final)
                flipped = True
                record.result = "published"
                record.message = f"active slot {state.active} -> {target}"
                moved = control.publish_readers(target)
                if moved:
                    record.message += f"; re-pointed {len(moved)} Glue tables"
        except BaseException as error:
            if not flipped:  # nothing published: back to where it was (without a half-replaced rollback target)
                control.write(replace(state, rollback=None) if moving else state)
            record.result = "published" if flipped else "failed"
            record.message = (record.message + "; " if flipped else "") + f"{type(error).__name__}: {error}"
            record.ended_at = now_iso()
            control.record(record)
            raise
        if not flipped:
            control.write(state)
            control.clear_audit()
        record.ended_at = now_iso()
        control.record(record)
    return Outcome(record, gates, final)


def recover(control: Control, promotion_id: str, *, actor: str) -> Record:
    """Finish an interrupted promotion: restore the slots document it replaced and release its lock.

    Only for a promotion recorded ``in-progress`` whose process is gone (killed, lost laptop): the document
    is restored only if it still is the one that promotion wrote.
    """
    records = {r.id: r for r in control.history()}
    record = records.get(promotion_id)
    if record is None or record.action != "promote":
        raise PromotionError(
            f"--recover {promotion_id}: no promotion with that id in the history of --env {control.env}"
        )
    if record.result != "in-progress":
        raise PromotionError(f"--recover {promotion_id}: it ended ({record.result}); nothing to recover")
    released = control.release_abandoned(promotion_id)
    holder = Record(
        id=f"recover-{promotion_id}",
        env=control.env,
        action="recover",
        version=record.version,
        from_slot=record.from_slot,
        to_slot=record.to_slot,
        actor=actor,
        started_at=now_iso(),
    )
    with control.lock(holder):  # refused if the promotion is in fact still running
        state = control.read()
        if state.change.startswith(f"{promotion_id}: auditing") and record.previous_state:
            control.write(SlotState.from_json(record.previous_state, f"record {promotion_id}"))
            restored = "restored the slots document it replaced"
        else:
            restored = f"left the slots document as it is ({state.change or 'initial state'})"
        control.clear_audit()
        record.result = "failed"
        record.message = f"interrupted; recovered by {actor}: {restored}" + ("; released its lock" if released else "")
        record.ended_at = now_iso()
        control.record(record)
    return record


def rollback(control: Control, *, actor: str) -> Outcome:
    """Flip back to the slot published before, whose gold is still as it was when it was left."""
    record = Record(
        id=_new_id("rollback"),
        env=control.env,
        action="rollback",
        version="",
        from_slot="",
        to_slot="",
        actor=actor,
        started_at=now_iso(),
    )
    with control.lock(record):
        state = control.read()
        if state.rollback is None:
            raise PromotionError(
                f"--env {control.env}: nothing to roll back to: slot {state.inactive} holds no published gold "
                f"(no promotion yet, or a promotion attempt replaced it: {state.change or 'initial state'})"
            )
        deployed = control.deployed_version()
        target = state.rollback
        record.from_slot, record.to_slot = state.active, target
        record.previous_version, record.version = state.version(state.active, deployed), state.version(target, deployed)
        final = replace(
            state,
            active=target,
            rollback=state.active,
            updated_at=now_iso(),
            updated_by=actor,
            change=f"{record.id}: rolled back {state.active} -> {target}",
        )
        control.write(final)
        moved = control.publish_readers(target)
        record.result = "rolled-back"
        record.message = f"active slot {state.active} -> {target}" + (
            f"; re-pointed {len(moved)} Glue tables" if moved else ""
        )
        record.ended_at = now_iso()
        control.record(record)
    return Outcome(record, [], final)


def proven(history: Sequence[Record], version: str) -> Record | None:
    """The newest record of ``version`` passing every gate and being published in that environment, unless
    that environment rolled back away from it afterwards (it misbehaved there)."""
    passed = [r for r in history if r.action == "promote" and r.version == version and r.result == "published"]
    if not passed:
        return None
    newest = max(passed, key=lambda r: r.started_at)
    rolled_away = [
        r
        for r in history
        if r.action == "rollback"
        and r.result == "rolled-back"
        and r.previous_version == version
        and r.started_at > newest.started_at
    ]
    return None if rolled_away else newest
