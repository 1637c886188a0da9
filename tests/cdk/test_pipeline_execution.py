"""What AWS runs, run here: the dev environment's synthesized state machines executed by moto, their EMR jobs
run as EMR Serverless runs them.

* The state machines are the definitions CDK synthesized for dev, unchanged but for the values a deployment
  fills in (bucket names, role ARNs, the application id, the alert topic), executed by moto 5.2's ASL
  interpreter on moto's server: single-writer guard, slots read from SSM, per-layer steps, retries,
  catch -> notify -> fail (tests/sfn_standin.py says what moto needs besides).
* Only the ``emr-serverless:startJobRun.sync`` states get a stand-in. In the "run" cases it does what EMR
  Serverless does with the state's Parameters: ``spark-submit`` of the release the Compute stack built
  (uploaded to the artifacts bucket as the deployment does), with the application's spark-defaults from
  the Compute template, the state's ``SparkSubmitParameters``, ``EntryPoint`` and ``EntryPointArguments``,
  on a bare CPython 3.9 (emr-7.12.0's Python, ``make install`` builds it: nothing of the project's virtualenv)
  against moto's S3. Substituted are only runtime values: the image's Delta jar paths by the same release in
  ``.jars/``, S3 by moto's endpoint (s3a, with EMR's S3 file system role played by S3A), local[2] sizing.
  A renamed argument on either side, a module missing from the archive or the pydeps, an import outside
  what EMR has, or an entrypoint path that differs from the uploaded release fails these tests.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cdk_testkit import Synthesized, flatten_join, readable_token, resources
from landing_intake.pipeline import GUARD_REFUSED

from job_assets.contracts import metrics as catalog
from job_assets.spark import C1_ONLY, local_jars
from lakehouse.generator import generate
from platform_model import aws_names
from tests.aws_server import REGION, patched_environment, spark_conf
from tests.sfn_standin import JobRunFailedError, history, patched_interpreter, wait_done

pytestmark = pytest.mark.spark
REPO = Path(__file__).resolve().parents[2]
EMR_PYTHON = REPO / "build" / "emr-python" / "bin" / "python3.9"
ENV = "dev"
# What a deployment of dev resolves the definitions' tokens to (readable_token names -> values).
BUCKET_TOKENS = {
    "LandingBucket": "lakehouse-sfn-landing",
    "BronzeBucket": "lakehouse-sfn-bronze",
    "SilverBucket": "lakehouse-sfn-silver",
    "GoldBucket": "lakehouse-sfn-gold",
    "ArtifactsBucket": "lakehouse-sfn-artifacts",
}
# emr-7.12.0 puts Delta's jars at these paths; here the same release comes from .jars/ (make install).
IMAGE_JARS = {
    "/usr/share/aws/delta/lib/delta-spark.jar": "delta-spark_2.12-3.3.2.jar",
    "/usr/share/aws/delta/lib/delta-storage.jar": "delta-storage-3.3.2.jar",
}


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


class Deployment:
    """dev, deployed to moto: buckets, the release in the artifacts bucket, parameters, topic, state machines."""

    def __init__(self, lakehouse: Synthesized, server: Any, workdir: Path) -> None:
        self.server, self.workdir = server, workdir
        env = lakehouse.environments[ENV]
        self.config = lakehouse.config.environments[ENV]
        self.version = env.compute.job_assets.version
        self.bundle = env.compute.job_assets.bundle_dir
        application = next(iter(resources(lakehouse.template(env.compute), "AWS::EMRServerless::Application").values()))
        [defaults] = [
            c["Properties"]
            for c in application["Properties"]["RuntimeConfiguration"]
            if c["Classification"] == "spark-defaults"
        ]
        self.spark_defaults: dict[str, str] = dict(defaults)
        self.machines_json = {
            r["Properties"]["StateMachineName"]: r["Properties"]["DefinitionString"]
            for r in resources(lakehouse.template(env.orchestration), "AWS::StepFunctions::StateMachine").values()
        }
        self.sfn = server.client("stepfunctions")
        self.ssm = server.client("ssm")
        self.s3 = server.client("s3")
        self.sleeps: list[float] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failed_runs: list[str] = []  # why a spark-submit failed (a retry would otherwise hide it)
        self.handler = self.run_job  # what the emr-serverless states do; tests swap it

    # -- deploying -------------------------------------------------------------------------------------------
    def deploy(self) -> None:
        for bucket in BUCKET_TOKENS.values():
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.upload_release(self.version)
        sns, sqs = self.server.client("sns"), self.server.client("sqs")
        self.topic = sns.create_topic(Name=f"{self.config.prefix}-alerts")["TopicArn"]
        self.queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
        self.set_slots("blue", {"blue": "", "green": ""})
        self.arns = {}
        for name, definition in self.machines_json.items():
            text = flatten_join(definition, render=self.token)
            self.arns[name] = self.sfn.create_state_machine(
                name=name, definition=text, roleArn=f"arn:aws:iam::{self.config.account}:role/{name}"
            )["stateMachineArn"]

    def token(self, value: Any) -> str:
        name = readable_token(value)
        if name in BUCKET_TOKENS:
            return BUCKET_TOKENS[name]
        if name == "AlertsTopic":
            return self.topic
        if name.endswith("JobRoleArn"):
            job = name.removesuffix("JobRoleArn").lower()
            return f"arn:aws:iam::{self.config.account}:role/{self.config.prefix}-{job}-job"
        if name == "SparkApplicationApplicationId":
            return "00fakeapplication"
        if name == "aws":
            return "aws"
        raise AssertionError(f"the definition holds a token this deployment does not fill in: {name}")

    def upload_release(self, version: str) -> None:
        """What JobAssets' BucketDeployment does: the bundle folder under ``jobs/<version>/``."""
        for path in sorted(p for p in self.bundle.rglob("*") if p.is_file()):
            key = f"jobs/{version}/{path.relative_to(self.bundle).as_posix()}"
            self.s3.put_object(Bucket=BUCKET_TOKENS["ArtifactsBucket"], Key=key, Body=path.read_bytes())

    def set_slots(self, active: str, slots: dict[str, str]) -> None:
        self.ssm.put_parameter(
            Name=aws_names.slots_parameter_name(ENV),
            Type="String",
            Overwrite=True,
            Value=json.dumps({"active": active, "slots": slots, "rollback": None}),
        )

    # -- the emr-serverless stand-ins ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the job runs of earlier executions."""
        self.calls.clear()
        self.failed_runs.clear()

    def dispatch(self, parameters: dict[str, Any], context: dict[str, Any]) -> Any:
        self.calls.append((context["State"]["Name"], parameters))
        return self.handler(parameters, context)

    def spark_submit_command(self, parameters: dict[str, Any]) -> list[str]:
        driver = parameters["JobDriver"]["SparkSubmit"]
        jars = {Path(j).name: j for j in local_jars()}
        command = [str(spark_home() / "bin" / "spark-submit"), "--master", "local[2]"]
        for key, value in self.spark_defaults.items():  # the application's spark-defaults
            if key == "spark.jars":
                value = ",".join(jars[IMAGE_JARS[j]] for j in value.split(","))
            command += ["--conf", f"{key}={value}"]
        command += shlex.split(driver["SparkSubmitParameters"])  # as the state passes them
        s3a = [jars["hadoop-aws-3.3.4.jar"], jars["aws-java-sdk-bundle-1.12.262.jar"]]
        command += ["--conf", f"spark.driver.extraClassPath={':'.join(s3a)}"]  # EMR's S3 file system: S3A here
        for key, value in {
            **spark_conf(self.server.endpoint),
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.driver.memory": "1g",  # the state's EMR worker sizing (spark.<job> in cdk.json): Spark's default
            "spark.databricks.delta.snapshotPartitions": "2",
            "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
            "spark.driver.extraJavaOptions": C1_ONLY,  # C1 with the tiered code cache size, as a local run
        }.items():
            command += ["--conf", f"{key}={value}"]
        return [*command, driver["EntryPoint"], *driver["EntryPointArguments"]]

    def run_job(self, parameters: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        """The job run EMR Serverless would start: spark-submit of the release, on the bare Python 3.9."""
        log = self.workdir / f"{parameters['Name']}-{uuid.uuid4().hex[:6]}.log"
        environ = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.workdir),
            "SPARK_HOME": str(spark_home()),
            "PYSPARK_PYTHON": str(EMR_PYTHON),
            "PYSPARK_DRIVER_PYTHON": str(EMR_PYTHON),
            "SPARK_LOCAL_IP": "127.0.0.1",
            **self.server.environment,
        }
        if "JAVA_HOME" in os.environ:
            environ["JAVA_HOME"] = os.environ["JAVA_HOME"]
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.run(
                self.spark_submit_command(parameters),
                env=environ,
                cwd=self.workdir,
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                check=False,
                timeout=900,
            )
            out.write(proc.stdout)
        summary = next(
            (json.loads(x) for x in reversed(proc.stdout.splitlines()) if x.startswith('{"job"')),
            {"status": "no summary"},
        )
        if proc.returncode != 0:
            errors = [
                line for line in log.read_text(encoding="utf-8").splitlines() if "Error" in line or "ERROR" in line
            ]
            self.failed_runs.append(f"{log.name}: exit {proc.returncode}; {' | '.join(errors[-3:])}")
            raise JobRunFailedError(f"job run {parameters['Name']} FAILED (exit {proc.returncode}): see {log}")
        return {"JobRunId": parameters["Name"], "State": "SUCCESS", "Summary": summary, "Log": str(log)}

    def start(self, machine: str, name: str) -> str:
        return self.sfn.start_execution(stateMachineArn=self.arns[machine], name=name)["executionArn"]


@pytest.fixture(scope="module")
def deployment(lakehouse: Synthesized, aws_server: Any, tmp_path_factory: pytest.TempPathFactory):
    if not EMR_PYTHON.is_file():
        pytest.fail(f"{EMR_PYTHON} is missing: `make install` builds it (python -m lakehouse.toolchain.emr_python)")
    from moto.moto_api._internal.models import moto_api_backend

    workdir = tmp_path_factory.mktemp("emr")
    config = lakehouse.config.environments[ENV]
    port = aws_server.endpoint.rsplit(":", 1)[1]
    # moto's aws-sdk tasks call the server at localhost:$MOTO_PORT; resources live in dev's account
    with patched_environment({**aws_server.environment, "MOTO_ACCOUNT_ID": config.account, "MOTO_PORT": port}):
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}})
        deployment = Deployment(lakehouse, aws_server, workdir)
        with patched_interpreter(deployment.dispatch, deployment.sleeps):
            deployment.deploy()
            landing = workdir / "generated"
            deployment.manifest = generate(landing, 2_000, seed=5, bad_ratio=0.02)
            for path in sorted(p for p in (landing / "landing").rglob("*") if p.is_file()):
                key = path.relative_to(landing / "landing").as_posix()
                deployment.s3.put_object(Bucket=BUCKET_TOKENS["LandingBucket"], Key=key, Body=path.read_bytes())
            yield deployment
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": False}})


def _keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def test_the_pipeline_runs_the_deployed_archive_end_to_end(deployment: Deployment):
    """Happy path: guard, slots (blue, the deployed version), then bronze, silver, gold, each a spark-submit of
    the release on Python 3.9 with exactly the synthesized parameters; the jobs' metrics reach CloudWatch
    through the boto3 the release ships (pydeps.zip), not the virtualenv's."""
    deployment.reset()
    execution = deployment.start(aws_names.pipeline_state_machine_name(ENV), "b20261205T000000Z")
    described = wait_done(deployment.sfn, execution)
    logs = [Path(c[1]["Name"]).name for c in deployment.calls]
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"), logs)
    assert [state for state, _ in deployment.calls] == ["RunBronze", "RunSilver", "RunGold"], deployment.failed_runs
    for state, parameters in deployment.calls:
        driver = parameters["JobDriver"]["SparkSubmit"]
        release = f"s3://{BUCKET_TOKENS['ArtifactsBucket']}/jobs/{deployment.version}/"
        assert driver["EntryPoint"] == f"{release}entrypoints/{state[3:].lower()}.py"
        assert f"spark.submit.pyFiles={release}job_assets.zip" in driver["SparkSubmitParameters"]
        assert f"spark.archives={release}pydeps.zip#pydeps" in driver["SparkSubmitParameters"]
        arguments = driver["EntryPointArguments"]
        assert arguments[arguments.index("--gold-uri") + 1] == f"s3://{BUCKET_TOKENS['GoldBucket']}/blue/"
        assert arguments[-2:] == ["--batch-id", "b20261205T000000Z"]
        assert parameters["Tags"] == {"Job": state[3:].lower(), "Slot": "blue", "Version": deployment.version}
    output = json.loads(described["output"])
    summaries = {job: output["jobs"][job]["Summary"] for job in ("bronze", "silver", "gold")}
    assert all(s["status"] == "succeeded" and s["engine"] == "delta-spark" for s in summaries.values()), summaries
    records = sum(f["records"] for f in deployment.manifest["files"])
    assert summaries["bronze"]["rows_in"] == records
    gold = _keys(deployment.s3, BUCKET_TOKENS["GoldBucket"])
    assert gold and all(k.startswith("blue/") for k in gold)
    assert any(k.startswith("blue/revenue_attribution/_delta_log/") for k in gold)
    cloudwatch = deployment.server.client("cloudwatch")
    published = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=f"Lakehouse/{ENV}")["Metrics"]}
    assert {"RecordsIn", "DQScore", "JobDurationSeconds"} <= published, published
    # what each run cost Spark (job_assets/spark_metrics.py), read on EMR's Python and published with the rest
    assert {m.name for m in catalog.SPARK_METRICS} <= published, published
    assert summaries["silver"]["spark"]["shuffle_write_bytes"] > 0 and summaries["silver"]["spark"]["stages"] > 0


@pytest.mark.slow  # slow: 75 s of spark-submit; `make test-slow`
def test_maintenance_runs_the_deployed_archive(deployment: Deployment):
    deployment.reset()
    execution = deployment.start(aws_names.maintenance_state_machine_name(ENV), "m20261205T000000Z")
    described = wait_done(deployment.sfn, execution)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert [state for state, _ in deployment.calls] == ["RunMaintenance"], deployment.failed_runs
    assert json.loads(described["output"])["jobs"]["maintenance"]["Summary"]["status"] == "succeeded"


def test_the_active_green_slot_runs_greens_version_into_gold_green(deployment: Deployment):
    """Promotion's effect on an execution: the slots parameter alone decides the version and the gold prefix."""
    deployment.reset()
    deployment.handler = lambda parameters, context: {"JobRunId": "recorded", "State": "SUCCESS"}
    try:
        deployment.set_slots("green", {"blue": deployment.version, "green": "00000000000green"})
        execution = deployment.start(aws_names.pipeline_state_machine_name(ENV), "b-green")
        assert wait_done(deployment.sfn, execution)["status"] == "SUCCEEDED"
    finally:
        deployment.set_slots("blue", {"blue": "", "green": ""})
        deployment.handler = deployment.run_job
    assert [state for state, _ in deployment.calls] == ["RunBronze", "RunSilver", "RunGold"], deployment.failed_runs
    for _, parameters in deployment.calls:
        driver = parameters["JobDriver"]["SparkSubmit"]
        assert "/jobs/00000000000green/entrypoints/" in driver["EntryPoint"]
        assert "/jobs/00000000000green/job_assets.zip" in driver["SparkSubmitParameters"]
        assert "/jobs/00000000000green/pydeps.zip#pydeps" in driver["SparkSubmitParameters"]
        arguments = driver["EntryPointArguments"]
        assert arguments[arguments.index("--gold-uri") + 1] == f"s3://{BUCKET_TOKENS['GoldBucket']}/green/"
        assert parameters["Tags"]["Slot"] == "green"


def test_a_failing_job_is_retried_then_notified_and_the_execution_fails(deployment: Deployment):
    attempts = deployment.config.emr.job_retry_attempts + 1
    deployment.reset()
    deployment.sleeps.clear()

    def fail_silver(parameters: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        if context["State"]["Name"] == "RunSilver":
            raise JobRunFailedError("EMR job run jr-silver FAILED: executor lost")
        return {"JobRunId": "recorded", "State": "SUCCESS"}

    deployment.handler = fail_silver
    try:
        execution = deployment.start(aws_names.pipeline_state_machine_name(ENV), "b-failing")
        described = wait_done(deployment.sfn, execution)
    finally:
        deployment.handler = deployment.run_job
    assert described["status"] == "FAILED" and described["error"] == "LakehousePipelineFailed"
    assert "executor lost" in described["cause"]
    assert [state for state, _ in deployment.calls] == ["RunBronze"] + ["RunSilver"] * attempts  # gold never ran
    interval = 60 * 2  # SparkPipelineProps.retry_interval_minutes
    assert len(deployment.sleeps) == attempts - 1
    assert all(0 <= s <= interval * 2**i for i, s in enumerate(deployment.sleeps))  # full jitter, backoff 2
    failures = [e for e in history(deployment.sfn, execution) if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["States.TaskFailed"] * attempts
    sqs = deployment.server.client("sqs")
    messages = sqs.receive_message(QueueUrl=deployment.queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    notes = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    assert any(n.get("batchId") == "b-failing" and n.get("error") == "States.TaskFailed" for n in notes), notes


def test_a_second_writer_is_refused_before_any_job(deployment: Deployment):
    """Single-writer guard: while maintenance runs, a pipeline execution fails at once and starts no job."""
    release = threading.Event()
    deployment.reset()

    def hold(parameters: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        release.wait(timeout=60)
        return {"JobRunId": "held", "State": "SUCCESS"}

    deployment.handler = hold
    try:
        running = deployment.start(aws_names.maintenance_state_machine_name(ENV), "m-holding")
        deadline = time.monotonic() + 30
        while not deployment.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [state for state, _ in deployment.calls] == ["RunMaintenance"], deployment.failed_runs
        refused = wait_done(deployment.sfn, deployment.start(aws_names.pipeline_state_machine_name(ENV), "b-refused"))
        assert refused["status"] == "FAILED" and refused["error"] == GUARD_REFUSED  # what the intake restarts
        assert [state for state, _ in deployment.calls] == ["RunMaintenance"]  # the pipeline started nothing
    finally:
        release.set()
        deployment.handler = deployment.run_job
    assert wait_done(deployment.sfn, running)["status"] == "SUCCEEDED"
