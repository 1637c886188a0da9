"""EMR sizing (docs/guides/EMR_SIZING.md): cdk.json's ``spark`` section is validated at synth with each bad key
named, every job state passes its job's settings, and only prod's application has pre-initialized capacity.

The configuration tests load dicts (no synth); the template tests read the session's synthesized app.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cdk_testkit import Synthesized, flatten_join, resources

from cdk.config import ConfigError, EnvironmentConfig, load_config
from cdk.constructs.spark_pipeline import START_JOB_RUN_SYNC
from cdk.spark_sizing import SPARK_JOBS, memory_split
from lakehouse.ops.envdiff import diff_environments
from platform_model import aws_names

ENV = "lakehouse.environments"


def mutate(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``raw`` with ``path`` (dotted, under ``environments``) set to ``value``."""
    data = copy.deepcopy(raw)
    *parents, leaf = f"environments.{path}".split(".")
    node = data
    for part in parents:
        node = node[part]
    node[leaf] = value
    return data


def test_committed_sizing_is_sound(raw_config: dict[str, Any]) -> None:
    config = load_config(raw_config)
    for env in config.environments.values():
        assert set(env.spark.jobs) == set(SPARK_JOBS)
        for job in env.spark.jobs.values():
            # a job at its largest allocation fits under the application's maximum on its own
            assert job.driver.cores + job.max_executors * job.executor.cores <= env.emr.max_vcpu
            assert job.shuffle_partitions >= job.max_executors * job.executor.cores
    assert config.environments["prod"].spark.initial_capacity is not None
    assert config.environments["dev"].spark.initial_capacity is None
    assert config.environments["staging"].spark.initial_capacity is None


def test_heap_and_overhead_make_exactly_the_worker() -> None:
    assert memory_split(16) == (16384 - 1639, 1639)  # 10 % overhead
    assert memory_split(2) == (2048 - 384, 384)  # at least 384 MB
    for gb in (2, 8, 16, 30, 60, 120):
        heap, overhead = memory_split(gb)
        assert heap + overhead == gb * 1024


BAD = [
    ("dev.spark.silver.executor.cores", 3, "silver.executor.cores", "1, 2, 4, 8, 16"),
    ("dev.spark.bronze.driver.cores", 32, "bronze.driver.cores", "vCPU"),
    ("dev.spark.gold.executor.memory_gb", 31, "gold.executor.memory_gb", "between 8 and 30"),
    ("dev.spark.gold.executor.memory_gb", 7, "gold.executor.memory_gb", "between 8 and 30"),
    ("dev.spark.maintenance.driver.memory_gb", 1, "maintenance.driver.memory_gb", "between 4 and 16"),
    ("dev.spark.bronze.executor.disk_gb", 10, "bronze.executor.disk_gb", "between 20 and 200"),
    ("dev.spark.silver.min_executors", 3, "silver.initial_executors", "1 is below min_executors (3)"),
    ("dev.spark.silver.initial_executors", 9, "silver.max_executors", "4 is below initial_executors (9)"),
    ("dev.spark.silver.max_executors", 8, "silver.max_executors", "emr.max_vcpu (32)"),
    ("dev.spark.silver.shuffle_partitions", 8, "silver.shuffle_partitions", "max_executors x executor.cores (16)"),
    ("dev.spark.gold.advisory_partition_mb", 4096, "gold.advisory_partition_mb", "between 16 and 1024"),
    ("dev.spark.gold.executor.gpu", 1, "gold.executor.gpu", "unknown field"),
    ("dev.spark.initial_capacity", None, "initial_capacity", "false (none) or an object"),
    ("prod.spark.initial_capacity.executor.workers", 60, "prod.spark.initial_capacity", "emr.max_vcpu (200)"),
    ("prod.spark.initial_capacity.driver.cores", 1, "initial_capacity.driver.memory_gb", "between 2 and 8"),
    ("prod.spark.initial_capacity.driver.cores", 8, "initial_capacity.driver", "matches no job's driver"),
    ("prod.spark.initial_capacity.driver.memory_gb", 20, "initial_capacity.driver", "matches no job's driver"),
    ("prod.spark.initial_capacity.executor.workers", -1, "initial_capacity.executor.workers", ">= 0"),
]


@pytest.mark.parametrize(("path", "value", "key", "message"), BAD, ids=[f"{b[0]}={b[1]}" for b in BAD])
def test_each_bad_setting_is_named(raw_config: dict[str, Any], path: str, value: Any, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(mutate(raw_config, path, value))
    assert error.value.key.endswith(key), error.value
    assert message in str(error.value)


def test_memory_steps_of_large_workers(raw_config: dict[str, Any]) -> None:
    big = {"cores": 8, "memory_gb": 30, "disk_gb": 20}  # 8 vCPU: 4 GB steps
    with pytest.raises(ConfigError, match=r"silver\.executor\.memory_gb: a 8-vCPU worker's memory goes in 4 GB steps"):
        load_config(mutate(raw_config, "prod.spark.silver.executor", big))
    assert load_config(mutate(raw_config, "prod.spark.silver.executor", {**big, "memory_gb": 32}))


def test_a_missing_job_is_named(raw_config: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_config)
    del data["environments"]["staging"]["spark"]["maintenance"]
    with pytest.raises(ConfigError, match=rf"^{ENV}\.staging\.spark\.maintenance: missing required section"):
        load_config(data)


# --- the synthesized app ------------------------------------------------------------------------------------


def job_states(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every EMR job state of the template's state machines, by ``<state machine>/<state>``."""
    states = {}
    for sm in resources(template, "AWS::StepFunctions::StateMachine").values():
        name = sm["Properties"]["StateMachineName"]
        for state_name, state in json.loads(flatten_join(sm["Properties"]["DefinitionString"]))["States"].items():
            if state.get("Resource") == START_JOB_RUN_SYNC:
                states[f"{name}/{state_name}"] = state
    return states


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_job_state_passes_its_jobs_settings(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    stacks = lakehouse.environments[env]
    templates = [lakehouse.template(stacks.orchestration)]
    if stacks.dr is not None and env_config[env].dr.standby:
        templates.append(lakehouse.template(stacks.dr))  # the standby's state machines run the same sizing
    seen = set()
    for template in templates:
        for where, state in job_states(template).items():
            job = state["Parameters"]["Tags"]["Job"]
            submit = state["Parameters"]["JobDriver"]["SparkSubmit"]["SparkSubmitParameters.$"]
            expected = env_config[env].spark.jobs[job].spark_conf()
            for key, value in expected.items():
                assert f"--conf {key}={value}" in submit, (where, key)
            seen.add(job)
    assert seen == set(SPARK_JOBS)
    silver = env_config[env].spark.jobs["silver"]
    assert silver.spark_conf()["spark.dynamicAllocation.maxExecutors"] == str(silver.max_executors)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_deployment_parameter_publishes_the_audit_jobs_sizing(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig], env: str
) -> None:
    """``lakehouse promote`` starts the audit (gold) itself: it reads gold's sizing from the deployment
    parameter, in both regions where the standby has one."""
    stacks = lakehouse.environments[env]
    templates = [lakehouse.template(stacks.orchestration)]
    if stacks.dr is not None and env_config[env].dr.standby:
        templates.append(lakehouse.template(stacks.dr))
    for template in templates:
        (value,) = [
            p["Properties"]["Value"]
            for p in resources(template, "AWS::SSM::Parameter").values()
            if p["Properties"].get("Name") == aws_names.deployment_parameter_name(env)
        ]
        document = json.loads(flatten_join(value))
        gold = env_config[env].spark.jobs[aws_names.AUDIT_JOB]
        assert document["job_sizing"] == {"gold": gold.submit_parameters()}
        assert f"--conf spark.executor.cores={gold.executor.cores}" in document["job_sizing"]["gold"]
        # still a standard parameter's 4 KB: test_cdk_release.test_deployment_parameter_describes_how_jobs_run


def application(template: dict[str, Any]) -> dict[str, Any]:
    (app,) = resources(template, "AWS::EMRServerless::Application").values()
    return app["Properties"]


def test_only_prods_application_is_pre_initialized(
    lakehouse: Synthesized, env_config: dict[str, EnvironmentConfig]
) -> None:
    prod = application(lakehouse.template(lakehouse.environments["prod"].compute))
    capacity = env_config["prod"].spark.initial_capacity
    assert capacity is not None
    assert prod["InitialCapacity"] == [
        {
            "Key": "Driver",
            "Value": {
                "WorkerCount": capacity.driver_workers,
                "WorkerConfiguration": {"Cpu": "4 vCPU", "Memory": "16 GB", "Disk": "20 GB"},
            },
        },
        {
            "Key": "Executor",
            "Value": {
                "WorkerCount": capacity.executor_workers,
                "WorkerConfiguration": {"Cpu": "4 vCPU", "Memory": "16 GB", "Disk": "20 GB"},
            },
        },
    ]
    for env in ("dev", "staging"):
        assert "InitialCapacity" not in application(lakehouse.template(lakehouse.environments[env].compute))
    standby = lakehouse.environments["prod"].dr
    assert standby is not None  # the DR standby only runs after a failover: nothing pre-initialized there
    assert "InitialCapacity" not in application(lakehouse.template(standby))


def test_env_diff_shows_the_sizing(lakehouse: Synthesized, raw_config: dict[str, Any]) -> None:
    """``lakehouse env diff`` reads the settings from cdk.json: the new keys are compared like any other."""
    diff = diff_environments(raw_config, lakehouse.config.environments, {"dev": {}, "prod": {}}, "dev", "prod")
    changes = {c.path: (c.a, c.b) for c in diff.config}
    assert changes["spark.silver.max_executors"] == (4, 20)
    assert changes["spark.silver.executor.cores"] == (4, 8)
    assert changes["spark.initial_capacity"][0] is False
    assert "spark.silver.advisory_partition_mb" in changes
