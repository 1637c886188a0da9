"""An AWS environment's control plane, :class:`AwsControl`: SSM, DynamoDB, Glue, S3."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from job_assets.contracts import GOLD_TABLES
from platform_model import aws_names

from ..locks import WriterMachineMissingError, running_writer
from .model import LockedError, PromotionError, Record, SlotState

log = logging.getLogger("lakehouse.promotion")
LOCK_TTL_SECONDS = 6 * 3600
"""A lock older than this is stale (the audit job's timeout is far shorter)."""


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
        """The environment's deployment parameter (buckets, gold URI, version, job arguments), read once.

        Raises:
            PromotionError: the parameter does not exist (the environment is not deployed).
        """
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
        try:
            running = running_writer(self.session, self.env, self.project)
        except WriterMachineMissingError as missing:
            raise PromotionError(
                f"--env {self.env}: state machine {missing.name} not found: is the environment deployed?"
            ) from None
        if running:
            machine, execution = running
            raise PromotionError(
                f"--env {self.env}: {machine} execution {execution} is running; promote or roll back "
                f"when it has finished (lakehouse pipeline runs --env {self.env})"
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
