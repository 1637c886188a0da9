"""The two auditors, which run a version's gold job: :class:`LocalAuditor` (a subprocess with the
version's archive on ``PYTHONPATH``) and :class:`AwsAuditor` (an EMR Serverless job run started like the
pipeline starts it).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from job_assets.context import CONTROL_DIR, ZONES
from platform_model import aws_names

from .aws import AwsControl
from .model import AuditRun, PromotionError
from .versions import _checkout_packaging

AUDIT_JOB = aws_names.AUDIT_JOB


def audit_submit_parameters(deployment: dict, version: str) -> str:
    """The audit run's ``SparkSubmitParameters``: release ``version``'s code, then gold's sizing as the
    deployment parameter publishes it (a deployment from before sizing existed has none: EMR's defaults).

    >>> audit_submit_parameters({"spark_submit_parameters": "--conf a={version}",
    ...                          "job_sizing": {"gold": "--conf spark.executor.cores=4"}}, "v1")
    '--conf a=v1 --conf spark.executor.cores=4'
    """
    release = str(deployment["spark_submit_parameters"]).replace("{version}", version)
    sizing = deployment.get("job_sizing", {}).get(AUDIT_JOB)
    return f"{release} {sizing}" if sizing else release


log = logging.getLogger("lakehouse.promotion")


class LocalAuditor:
    """Runs a packaged version's jobs on the local lake in a child process, with its archive first on the
    path: exactly the code EMR would run, never this checkout's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / CONTROL_DIR / "versions"

    def ensure(self, version: str) -> None:
        """Check that version ``version`` is packaged in the local version store.

        Raises:
            PromotionError: it is not (the message lists the versions there).
        """
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
        """Run ``job``'s entrypoint of packaged version ``version`` as a separate Python process (the version's
        archive on its path) on the local lake, gold into ``gold_uri``; returns its
        :class:`~lakehouse.promotion.model.AuditRun`.
        """
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
        """Run the candidate's gold job into the audit location; its audit run."""
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
        """Check that version ``version`` is uploaded to the environment's artifacts bucket.

        Raises:
            PromotionError: it is not.
        """
        bucket, key = self._artifact(version, "job_assets.zip")
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.ClientError:
            raise PromotionError(
                f"--version {version}: s3://{bucket}/{key} not found; "
                f"versions are shipped by `cdk deploy -c env={self.control.env}`"
            ) from None

    def run(self, version: str, *, slot_uri: str, batch_id: str) -> AuditRun:
        """Run the candidate's gold job on the environment's EMR application into the audit location and
        wait for it; its audit run.
        """
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
                    "sparkSubmitParameters": audit_submit_parameters(d, version),
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
