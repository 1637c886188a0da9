"""X-Ray: patch botocore once so every AWS call a function makes is a subsegment of its trace.

Lambda's active tracing creates the segment; the SDK adds one ``aws`` subsegment per API call (service,
operation, request id, errors). Outside Lambda there is no segment: set ``AWS_XRAY_SDK_ENABLED=false``
(tests do) or give the recorder a segment yourself.
"""

from __future__ import annotations

from aws_xray_sdk.core import patch, xray_recorder


def init_tracing() -> None:
    """Patch botocore (and so boto3) for X-Ray.

    Idempotent (the SDK records what it patched) and a no-op while the SDK is disabled, so a later call
    with the SDK enabled still patches.
    """
    patch(("botocore",))


def annotate(**annotations: str | int | float | bool) -> None:
    """Searchable annotations on the current (sub)segment; a no-op when there is none."""
    entity = xray_recorder.get_trace_entity() if xray_recorder.context else None
    if entity is None or not hasattr(entity, "put_annotation"):
        return
    for key, value in annotations.items():
        entity.put_annotation(key, value)
