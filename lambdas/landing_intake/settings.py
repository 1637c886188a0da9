"""The landing intake's settings: the function's environment, validated (:class:`Settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SAFETY_MARGIN_MS = 10_000
"""Stop taking messages when less than this remains: the rest are reported failed, not timed out."""


class SettingsError(ValueError):
    """The function's environment is incomplete or wrong (names the variable)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    manifest_table: str
    state_machine_arn: str
    landing_bucket: str
    writer_state_machine_arns: tuple[str, ...] = ()
    """Every lake-writing state machine (the pipeline included): the pipeline starts only when none runs."""
    safety_margin_ms: int = SAFETY_MARGIN_MS

    def __post_init__(self) -> None:
        if self.state_machine_arn not in self.writer_state_machine_arns:
            object.__setattr__(
                self, "writer_state_machine_arns", (self.state_machine_arn, *self.writer_state_machine_arns)
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = (environ.get(name) or "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is missing or empty")
            return value

        def state_machine(name: str, arn: str) -> str:
            parts = arn.split(":")
            if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "stateMachine":
                raise SettingsError(
                    f"environment variable {name}={arn!r} is not a state machine ARN "
                    f"(arn:<partition>:states:<region>:<account>:stateMachine:<name>)"
                )
            return arn

        arn = state_machine("STATE_MACHINE_ARN", required("STATE_MACHINE_ARN"))
        writers = tuple(
            state_machine("WRITER_STATE_MACHINE_ARNS", item.strip())
            for item in (environ.get("WRITER_STATE_MACHINE_ARNS") or "").split(",")
            if item.strip()
        )
        bucket = required("LANDING_BUCKET")
        if "/" in bucket or bucket.startswith("s3:"):
            raise SettingsError(f"environment variable LANDING_BUCKET={bucket!r} must be a bucket name, not a URI")
        return cls(
            environment=required("ENVIRONMENT"),
            manifest_table=required("MANIFEST_TABLE"),
            state_machine_arn=arn,
            landing_bucket=bucket,
            writer_state_machine_arns=writers,
        )
