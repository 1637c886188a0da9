"""Run synthesized Step Functions definitions in moto 5.2's ASL interpreter, unchanged.

moto interprets every state of our state machines except ``arn:aws:states:::emr-serverless:startJobRun.sync``
(its factory maps emr-serverless to "unsupported" and the execution fails before Retry/Catch apply).
:func:`patched_interpreter` changes three things in moto, in this process only, and undoes them after:

1. ``emr-serverless`` tasks get a stand-in service that calls ``handler(parameters, context)`` with the
   state's *evaluated* Parameters (``States.Format``, ``States.Array``, ``States.UUID`` done by moto). The
   handler returns the task's result, or raises :class:`JobRunFailedError` to fail the state with an error name
   (``States.TaskFailed`` as the real integration reports a failed job run), so Retry and Catch apply.
2. ``aws-sdk:*`` tasks: moto 5.2.5 passes the ASL's PascalCase parameters to botocore unchanged and returns
   botocore's camelCase response (``stateMachineArn`` vs ``StateMachineArn``, ``executions`` vs
   ``Executions``); AWS converts both ways, so this converts both ways with botocore's shapes.
3. Retry waits: moto sleeps for real (120 s and more); the waits are recorded in ``sleeps`` instead.

Nothing else of the definition is touched: the guard, the slots read, the choices, the SNS notification
and the Fail states run as synthesized.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

Handler = Callable[[dict[str, Any], dict[str, Any]], Any]
"""(the state's evaluated Parameters, the context object's Execution/State/StateMachine) -> the task's result."""


class JobRunFailedError(Exception):
    """Fail the emr-serverless state with ``error`` (default ``States.TaskFailed``) and ``cause``."""

    def __init__(self, cause: str, error: str = "States.TaskFailed") -> None:
        super().__init__(cause)
        self.error, self.cause = error, cause


def _stand_in_class(handler: Handler) -> type:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    class EmrServerlessStandIn(StateTaskService):
        def _validate_service_integration_is_supported(self) -> None:
            pass

        def _get_sfn_resource(self) -> str:
            condition = self.resource.condition
            return self.resource.api_action + (f".{condition}" if condition else "")

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            data = env.states.context_object.context_object_data
            context = json.loads(json.dumps({k: data[k] for k in ("Execution", "State", "StateMachine")}, default=str))
            try:
                result = handler(normalised_parameters, context)
            except JobRunFailedError as failure:
                name = (
                    StatesErrorName.from_name(failure.error)
                    if failure.error.startswith("States.")
                    else CustomErrorName(failure.error)
                )
                details = TaskFailedEventDetails(
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                    error=failure.error,
                    cause=failure.cause,
                )
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=name,
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(taskFailedEventDetails=details),
                    )
                ) from failure
            env.stack.append(result if result is not None else {})

    return EmrServerlessStandIn


@contextlib.contextmanager
def patched_interpreter(handler: Handler, sleeps: list[float]) -> Iterator[None]:
    """moto's interpreter with the three changes of the module docstring, for the duration of the block."""
    import botocore.session
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    stand_in = _stand_in_class(handler)
    original_factory = state_task_factory.state_task_service_for
    models = botocore.session.get_session()

    def factory(service_name: str) -> Any:
        return stand_in() if service_name == "emr-serverless" else original_factory(service_name)

    def operation(task: Any) -> Any:
        action = task.resource.api_action
        return models.get_service_model(task._get_boto_service_name()).operation_model(action[0].upper() + action[1:])

    def normalise_parameters(self: Any, parameters: Any, *_: Any, **__: Any) -> None:
        self._to_boto_request(parameters, operation(self).input_shape)

    def normalise_response(self: Any, response: Any, *_: Any, **__: Any) -> None:
        self._from_boto_response(response, operation(self).output_shape)

    saved = [
        (state_task_factory, "state_task_service_for", original_factory),
        (retrier_decl, "time", retrier_decl.time),
        (StateTaskServiceAwsSdk, "_normalise_parameters", StateTaskServiceAwsSdk.__dict__.get("_normalise_parameters")),
        (StateTaskServiceAwsSdk, "_normalise_response", StateTaskServiceAwsSdk.__dict__.get("_normalise_response")),
    ]
    state_task_factory.state_task_service_for = factory
    retrier_decl.time = SimpleNamespace(sleep=sleeps.append)
    StateTaskServiceAwsSdk._normalise_parameters = normalise_parameters
    StateTaskServiceAwsSdk._normalise_response = normalise_response
    try:
        yield
    finally:
        for owner, attribute, value in saved:
            if value is None:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, value)


def wait_done(sfn: Any, execution_arn: str, timeout: float = 900.0) -> dict[str, Any]:
    """Poll ``describe_execution`` until the execution leaves RUNNING (moto runs it on a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still RUNNING after {timeout:.0f} s")
        time.sleep(0.1)


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]
