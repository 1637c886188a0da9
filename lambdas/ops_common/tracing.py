"""X-Ray: patch botocore once so every AWS call a function makes is a subsegment of its trace.

Lambda's active tracing creates the segment; inside the function the SDK sees it as a *facade* segment,
which takes subsegments but no annotations, metadata or errors (mutating it raises
``FacadeSegmentMutationException``). So each handler runs inside its own subsegment ``## <function>``
(:func:`traced_handler`): its AWS calls nest under it as ``aws`` subsegments (service, operation, request
id, errors), an exception is recorded on it, and :func:`annotate` writes the searchable annotations there.

Outside Lambda there is no segment: set ``AWS_XRAY_SDK_ENABLED=false`` (tests do) or give the recorder a
segment yourself. Tracing never fails a handler: a missing segment is ignored and a refused annotation is
logged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.core.models.facade_segment import FacadeSegment

from ops_common import log

Handler = TypeVar("Handler", bound=Callable[..., Any])


def init_tracing() -> None:
    """Patch botocore (and so boto3) for X-Ray.

    Idempotent (the SDK records what it patched) and a no-op while the SDK is disabled, so a later call
    with the SDK enabled still patches.
    """
    patch(("botocore",))


def traced_handler(name: str) -> Callable[[Handler], Handler]:
    """Run the decorated Lambda handler inside the subsegment ``## <name>`` (what :func:`annotate` annotates)."""

    def decorate(function: Handler) -> Handler:
        @functools.wraps(function)
        def handler(*args: Any, **kwargs: Any) -> Any:
            with xray_recorder.in_subsegment(f"## {name}"):
                return function(*args, **kwargs)

        return handler  # type: ignore[return-value]

    return decorate


def annotate(**annotations: str | int | float | bool) -> None:
    """Searchable annotations on the current subsegment.

    A no-op when the SDK is disabled, there is no trace entity, it is not sampled, or it is Lambda's facade
    segment (call this inside :func:`traced_handler`). Never raises.
    """
    if not global_sdk_config.sdk_enabled() or not xray_recorder.context:
        return
    try:
        entity = xray_recorder.get_trace_entity()
        if entity is None or isinstance(entity, FacadeSegment) or not getattr(entity, "sampled", False):
            return
        for key, value in annotations.items():
            entity.put_annotation(key, value)
    except Exception as error:  # tracing must never fail the work it describes
        log.warning("X-Ray annotations not recorded", reason="xray_annotation_failed", error=repr(error))
