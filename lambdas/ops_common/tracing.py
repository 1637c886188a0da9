"""X-Ray: patch botocore once so every AWS call a function makes is a subsegment of its trace.

Lambda's active tracing creates the segment; the SDK adds one ``aws`` subsegment per API call (service,
operation, request id, errors). Outside Lambda there is no segment: set ``AWS_XRAY_SDK_ENABLED=false``
(tests do) or give the recorder a segment yourself.
"""

from __future__ import annotations

from aws_xray_sdk.core import patch, xray_recorder

_patched = False


def init_tracing() -> None:
    """Idempotent: patch botocore (and so boto3) for X-Ray."""
    global _patched
    if not _patched:
        patch(("botocore",))
        _patched = True


def annotate(**annotations: str | int | float | bool) -> None:
    """Searchable annotations on the current (sub)segment; a no-op when there is none."""
    entity = xray_recorder.get_trace_entity() if xray_recorder.context else None
    if entity is None or not hasattr(entity, "put_annotation"):
        return
    for key, value in annotations.items():
        entity.put_annotation(key, value)
