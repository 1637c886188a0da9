"""``lakehouse dr status | failover | failback``: read the replicas' state, move the environment to the DR
region's standby and back (runbooks/dr-failover.md, runbooks/dr-failback.md).

What a failover changes, in this order and only after every check passed: the recovery point is written to
the DR region (``dr/failovers/<id>.json`` in the replica of the artifacts bucket); the DR region's slots
parameter takes the primary's (when the primary can be read) so that the standby runs the published release
and slot; the primary's schedules are disabled (when reachable: no second writer when it comes back); the
``active-region`` parameter says the DR region in both regions (the primary's only when reachable); the
standby pipeline starts. A failback checks that the primary is reachable, copies back what the DR region
wrote meanwhile, checks that the primary has caught up, then reverses each change.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from job_assets.context import new_batch_id
from platform_model import aws_names

from ..locks import WriterMachineMissingError, running_writer
from .replica import Comparison, compare
from .sites import LAKE_BUCKETS, DrError, DrSetup, Site, open_primary
from .sync import copy_back, set_aside_abandoned

FAILOVERS_PREFIX = "dr/failovers/"
FAILBACKS_PREFIX = "dr/failbacks/"
Confirm = Callable[[str], bool]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _actor(site: Site) -> str:
    try:
        return str(site.client("sts").get_caller_identity()["Arn"])
    except Exception:
        return getpass.getuser()


@dataclass(frozen=True)
class Active:
    """The ``active-region`` document (absent: the primary serves)."""

    document: dict[str, Any]

    @property
    def region(self) -> str:
        """The region it names as serving."""
        return str(self.document.get("region", ""))


def read_active(site: Site) -> Active | None:
    """``site``'s ``active-region`` document, None when it has none (never failed over)."""
    value = site.read_parameter(aws_names.active_region_parameter_name(site.setup.env, site.setup.project))
    return Active(json.loads(value)) if value else None


def failed_over(dr: Site) -> Active | None:
    """The DR region's ``active-region`` document when it names the DR region, else None."""
    active = read_active(dr)
    return active if active and active.region == dr.region else None


def _write_active(site: Site, document: dict[str, Any]) -> None:
    """``document`` as ``site``'s ``active-region`` parameter."""
    name = aws_names.active_region_parameter_name(site.setup.env, site.setup.project)
    site.write_parameter(name, json.dumps(document), "The region serving the environment: lakehouse dr failover/back.")


def _no_writer(site: Site) -> None:
    """DrError while the pipeline or maintenance runs in ``site``'s region."""
    try:
        running = running_writer(site.session, site.setup.env, site.setup.project)
    except WriterMachineMissingError as missing:
        raise DrError(f"--env {site.setup.env}: state machine {missing.name} not found in {site.region}") from None
    if running:
        raise DrError(
            f"--env {site.setup.env}: {running[0]} execution {running[1]} is running in {site.region}; "
            "wait for it to end (lakehouse pipeline runs), nothing changed"
        )


def _set_schedules(site: Site, enabled: bool) -> list[str]:
    """Enable or disable the pipeline and maintenance schedules in ``site``'s region; the rules changed."""
    events = site.client("events")
    changed = []
    for name in (
        aws_names.pipeline_state_machine_name(site.setup.env, site.setup.project),
        aws_names.maintenance_state_machine_name(site.setup.env, site.setup.project),
    ):
        rule = f"{name}-schedule"
        try:
            (events.enable_rule if enabled else events.disable_rule)(Name=rule)
        except events.exceptions.ResourceNotFoundException:
            continue
        changed.append(rule)
    return changed


def _set_intake(site: Site, enabled: bool) -> list[str]:
    """Pause or resume the landing intake in ``site``'s region: its SQS event source mappings, so the
    notifications of deliveries wait in the intake queue (nothing lost) instead of starting pipelines on
    tables the other region now writes. The mappings changed ([] when the function is not there)."""
    lam = site.client("lambda")
    function = aws_names.function_name(site.setup.env, "landing-intake", site.setup.project)
    try:
        mappings = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    except lam.exceptions.ResourceNotFoundException:
        return []
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=enabled)
    return [m["UUID"] for m in mappings]


def _read_slots(source: Site) -> str:
    """``source``'s slots document; DrError when the parameter is missing (read before anything changes)."""
    name = aws_names.slots_parameter_name(source.setup.env, source.setup.project)
    value = source.read_parameter(name)
    if value is None:
        raise DrError(f"--env {source.setup.env}: SSM parameter {name} not found in {source.region}; nothing changed")
    return value


def _write_slots(target: Site, value: str) -> str:
    """Write the slots document into ``target``'s region; the value written."""
    name = aws_names.slots_parameter_name(target.setup.env, target.setup.project)
    target.write_parameter(name, value, "Active blue/green slot and each slot's job-assets version.")
    return value


def recovery_point(comparison: Comparison) -> dict[str, Any]:
    """Per table: the replica's last commit (version, time) and the primary's commits it lacks (data lost)."""
    tables = {
        t.table: {
            "version": t.copy_version,
            "timestamp": t.copy_timestamp,
            "commits_lost": t.behind,
            "primary_version": t.source_version,
        }
        for t in comparison.tables
    }
    known = [t.behind for t in comparison.tables if t.behind is not None]
    return {
        "primary_reachable": comparison.source_reachable,
        "consistent": comparison.consistent,
        "commits_lost": sum(known) if comparison.source_reachable else None,
        "tables": tables,
    }


def _record(site: Site, prefix: str, record: dict[str, Any]) -> str:
    """Write ``record`` as JSON under ``prefix`` of the DR region's artifacts replica; its S3 URI."""
    bucket = site.bucket("artifacts")
    key = f"{prefix}{record['id']}.json"
    site.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(record, indent=2).encode(), ContentType="application/json"
    )
    return f"s3://{bucket}/{key}"


def print_comparison(comparison: Comparison, console: Console, *, title: str) -> None:
    """One row per table: versions on both sides, commits behind, the copy's last commit, the verdict."""
    table = Table(title=title)
    for column in ("table", comparison.source_region, comparison.copy_region, "behind", "last commit (UTC)", "state"):
        table.add_column(column, overflow="fold")
    for t in comparison.tables:
        table.add_row(
            t.table,
            "?" if t.source_version is None else str(t.source_version),
            "-" if t.copy_version is None else str(t.copy_version),
            "?" if t.behind is None else str(t.behind),
            t.copy_timestamp,
            "consistent" if t.consistent else t.reason(),
        )
    console.print(table)
    if not comparison.source_reachable:
        console.print(f"{comparison.source_region} unreachable: lag unknown, the copy was checked on its own")
    console.print(comparison.summary(), soft_wrap=True)


def failover(setup: DrSetup, *, force: bool, confirm: Confirm, console: Console) -> int:
    """Move ``setup``'s environment to the DR standby (module docstring); DrError before any change."""
    dr = Site.open(setup, setup.dr_region)
    if active := failed_over(dr):
        raise DrError(f"--env {setup.env}: already failed over to {dr.region} since {active.document.get('since')}")
    primary, why = open_primary(setup)
    comparison = compare(primary, dr, source_region=setup.region)
    if not comparison.consistent and not force:
        raise DrError(
            f"--env {setup.env}: refused, {comparison.summary()}; wait for replication "
            f"(lakehouse dr status --env {setup.env}) or pass --force to accept the loss; nothing changed"
        )
    _no_writer(dr)
    if primary is not None:  # a primary run still going would commit (and replicate) into the standby's tables
        _no_writer(primary)
    print_comparison(comparison, console, title=f"{setup.prefix}: replica in {dr.region}")
    if not confirm(f"Fail {setup.prefix} over to {dr.region}?"):
        console.print("not confirmed; nothing changed")
        return 1
    return _switch_to_dr(setup, dr, primary, why, comparison, force=force, console=console)


def _switch_to_dr(
    setup: DrSetup, dr: Site, primary: Site | None, why: str, comparison: Comparison, *, force: bool, console: Console
) -> int:
    """The failover's changes, in the module docstring's order (every check has passed)."""
    record = {
        "id": f"failover-{new_batch_id()[1:]}",
        "env": setup.env,
        "from_region": setup.region,
        "to_region": dr.region,
        "at": _now(),
        "by": _actor(dr),
        "forced": force,
        "primary_unreachable": why,
        "landing_bucket": dr.bucket("landing"),
        "recovery_point": recovery_point(comparison),
    }
    slots_name = aws_names.slots_parameter_name(setup.env, setup.project)
    slots = _read_slots(primary) if primary else dr.read_parameter(slots_name)
    uri = _record(dr, FAILOVERS_PREFIX, record)
    if primary and slots is not None:
        _write_slots(dr, slots)
    disabled = _set_schedules(primary, enabled=False) if primary else []
    disabled += [f"landing intake (mapping {m})" for m in _set_intake(primary, enabled=False)] if primary else []
    active = {
        "region": dr.region,
        "role": "dr",
        "landing_bucket": record["landing_bucket"],
        "state_machine_arn": dr.state_machine_arn(),
        "application_id": dr.deployment["application_id"],
        "since": record["at"],
        "by": record["by"],
        "record": uri,
    }
    for site in (dr, primary) if primary else (dr,):
        _write_active(site, active)
    execution = dr.client("stepfunctions").start_execution(
        stateMachineArn=active["state_machine_arn"], name=new_batch_id(), input="{}"
    )
    _report_failover(setup, record, uri, slots, disabled, execution["executionArn"], console)
    return 0


def _report_failover(
    setup: DrSetup,
    record: dict[str, Any],
    uri: str,
    slots: str | None,
    disabled: list[str],
    execution: str,
    console: Console,
) -> None:
    """Print the recovery point and what the failover changed."""
    point = record["recovery_point"]
    lost = "unknown (primary unreachable)" if point["commits_lost"] is None else str(point["commits_lost"])
    console.print(f"failed over {setup.prefix} to {record['to_region']}: recovery point {uri}", soft_wrap=True)
    for name, table in point["tables"].items():
        console.print(
            f"  {name}: version {table['version']} at {table['timestamp'] or '?'}, "
            f"commits lost {'?' if table['commits_lost'] is None else table['commits_lost']}",
            soft_wrap=True,
        )
    console.print(f"commits lost in all: {lost}")
    console.print(
        f"SSM {aws_names.active_region_parameter_name(setup.env, setup.project)} -> {record['to_region']} "
        f"(producers land files in {record['landing_bucket']}); "
        f"{aws_names.slots_parameter_name(setup.env, setup.project)} in {record['to_region']}: {slots}",
        soft_wrap=True,
    )
    if disabled:
        console.print(f"primary schedules and intake paused: {', '.join(disabled)}", soft_wrap=True)
    console.print(f"standby pipeline started: {execution}", soft_wrap=True)


def failback(setup: DrSetup, *, confirm: Confirm, console: Console, drop_abandoned: bool = False) -> int:
    """Back to the primary: reachable, caught up (after the copy-back), then every pointer reversed."""
    dr = Site.open(setup, setup.dr_region)
    active = failed_over(dr)
    if active is None:
        raise DrError(f"--env {setup.env}: not failed over ({dr.region} is not the active region); nothing to do")
    primary, why = open_primary(setup)
    if primary is None:
        raise DrError(f"{why}; failback needs the primary region back; nothing changed")
    _no_writer(dr)
    _no_writer(primary)
    if not confirm(f"Copy back what {dr.region} wrote and fail {setup.prefix} back to {setup.region}?"):
        console.print("not confirmed; nothing changed")
        return 1
    copied = copy_back(dr, primary, LAKE_BUCKETS, since=str(active.document.get("since", "")))
    console.print(f"copied back {copied} object(s) written in {dr.region} since the failover")
    comparison = compare(dr, primary, source_region=dr.region, ahead_counts=True)
    abandoned = [t for t in comparison.tables if t.ahead]
    if abandoned and drop_abandoned:
        moved = set_aside_abandoned(primary, abandoned, f"failback-{new_batch_id()[1:]}")
        console.print(f"set aside {len(moved)} log object(s) of commits {dr.region} never had: {', '.join(moved)}")
        comparison = compare(dr, primary, source_region=dr.region, ahead_counts=True)
    print_comparison(comparison, console, title=f"{setup.prefix}: primary in {primary.region}")
    if not comparison.consistent:
        hint = (
            "; the primary holds commits the DR region never had (lost at a forced failover): "
            "--drop-abandoned sets them aside under <table>/_recovery/abandoned/"
            if any(t.ahead for t in comparison.tables)
            else ""
        )
        console.print(f"not caught up: {comparison.summary()}; still failed over to {dr.region}{hint}")
        return 1
    return _switch_to_primary(setup, dr, primary, active, comparison, console)


def _switch_to_primary(
    setup: DrSetup, dr: Site, primary: Site, active: Active, comparison: Comparison, console: Console
) -> int:
    """The failback's pointer changes (the primary has caught up)."""
    record = {
        "id": f"failback-{new_batch_id()[1:]}",
        "env": setup.env,
        "from_region": dr.region,
        "to_region": primary.region,
        "at": _now(),
        "by": _actor(primary),
        "failover": active.document.get("record", ""),
        "tables": {t.table: t.copy_version for t in comparison.tables},
    }
    slots = _read_slots(dr)
    uri = _record(dr, FAILBACKS_PREFIX, record)
    _write_slots(primary, slots)
    document = {
        "region": primary.region,
        "role": "primary",
        "landing_bucket": primary.bucket("landing"),
        "state_machine_arn": primary.state_machine_arn(),
        "application_id": primary.deployment["application_id"],
        "since": record["at"],
        "by": record["by"],
        "record": uri,
    }
    for site in (primary, dr):
        _write_active(site, document)
    enabled = _set_schedules(primary, enabled=True) if setup.schedule_enabled else []
    enabled += [f"landing intake (mapping {m})" for m in _set_intake(primary, enabled=True)]
    console.print(f"failed back {setup.prefix} to {primary.region}: record {uri}", soft_wrap=True)
    console.print(
        f"SSM {aws_names.active_region_parameter_name(setup.env, setup.project)} -> {primary.region} "
        f"(producers land files in {document['landing_bucket']}); "
        f"schedules enabled: {', '.join(enabled) or 'none (schedule.enabled is false)'}",
        soft_wrap=True,
    )
    return 0


def status(setup: DrSetup, *, console: Console, as_json: bool = False) -> int:
    """Replication lag, the replica's consistency and last commit per table, the active region: 1 when
    the replica is inconsistent."""
    from .lag import replication_latency

    dr = Site.open(setup, setup.dr_region)
    primary, _ = open_primary(setup)
    comparison = compare(primary, dr, source_region=setup.region)
    lag = replication_latency(primary, dr) if primary else {}
    active = read_active(dr)
    if as_json:
        console.print_json(
            json.dumps(
                comparison.as_json() | {"replication_latency_seconds": lag, "active": active and active.document}
            )
        )
        return 0 if comparison.consistent else 1
    print_comparison(comparison, console, title=f"{setup.prefix}: replica in {dr.region}")
    for layer, seconds in lag.items():
        console.print(f"replication latency {layer}: {'no data' if seconds is None else f'{seconds:.0f} s'}")
    console.print(f"active region: {active.region if active else setup.region}")
    return 0 if comparison.consistent else 1
