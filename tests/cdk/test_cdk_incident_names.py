"""The names the incident commands (lakehouse/ops/: logs, events, replication) address are the ones the
stacks deploy: the log groups of the EMR application and of each operational Lambda
(platform_model.aws_names), the EventBridge rules under the environment's prefix, the replication rule id."""

from __future__ import annotations

from cdk_testkit import Synthesized, resources

from platform_model import aws_names

ENVS = ("dev", "staging", "prod")


def _all(lakehouse: Synthesized, env: str, kind: str) -> list[dict]:
    found = []
    for _, template in lakehouse.templates(env):
        found += [r["Properties"] for r in resources(template, kind).values()]
    return found


def test_log_groups_are_the_ones_logs_reads(lakehouse: Synthesized, env_config) -> None:
    for env in ENVS:
        groups = {g.get("LogGroupName") for g in _all(lakehouse, env, "AWS::Logs::LogGroup")}
        assert aws_names.emr_log_group_name(env) in groups, env
        functions = [
            f for f in aws_names.OPS_FUNCTIONS if f != "replica-verifier" or env_config[env].features.replication
        ]
        for function in functions:
            assert aws_names.function_log_group_name(env, function) in groups, (env, function)


def test_rules_and_replication_rule_are_the_ones_events_and_replication_read(
    lakehouse: Synthesized, env_config
) -> None:
    for env in ENVS:
        rules = {r.get("Name") for r in _all(lakehouse, env, "AWS::Events::Rule")}
        for suffix in ("job-run-failed", "execution-failed"):
            assert f"{aws_names.prefix(env)}-{suffix}" in rules, env
        if not env_config[env].features.replication:
            continue
        buckets = _all(lakehouse, env, "AWS::S3::Bucket")
        rule_ids = {r["Id"] for b in buckets for r in b.get("ReplicationConfiguration", {}).get("Rules", [])}
        assert rule_ids == {"to-dr-region"}, env
