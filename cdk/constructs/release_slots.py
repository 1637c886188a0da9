"""ReleaseSlots: the SSM parameter naming an environment's active blue/green slot and each slot's version."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from platform_model.aws_names import SLOTS

INITIAL_SLOT = SLOTS[0]
VERSION_PLACEHOLDER = "{version}"
"""Where a job-assets version goes in a URI or argument template, e.g. ``s3://<artifacts>/jobs/{version}/``."""
SLOT_PLACEHOLDER = "{slot}"
"""Where a slot name goes in an argument template, e.g. ``--gold-uri s3://<gold>/{slot}/``."""
INITIAL_VALUE = json.dumps({"active": INITIAL_SLOT, "slots": {slot: "" for slot in SLOTS}})
"""``{"active": "blue", "slots": {"blue": "", "green": ""}}``: version ``""`` is "the deployed version"."""


@dataclass(frozen=True, kw_only=True)
class ReleaseSlotsProps:
    parameter_name: str
    """``platform_model.aws_names.slots_parameter_name(env)``: the CLI addresses it by this name."""
    prefix: str
    """``lakehouse-<env>``, for the description."""


class ReleaseSlots(Construct):
    """A String parameter, JSON ``{"active": <slot>, "slots": {"blue": <version>, "green": <version>}}``.

    CloudFormation creates it once; from then on ``lakehouse promote`` and ``lakehouse rollback`` own its
    value and the state machines read it at the start of every execution.

    Its template value is a constant on purpose. CloudFormation writes a resource only when the resource
    changes in the template, so a constant value (nothing derived from the deployed version, no token)
    means a later deploy never rewrites what a promotion wrote. The flip side: any change to this resource
    in the template (value, description, tier, tags, logical id) is an update, and an update writes the
    template value back, resetting both slots to the deployed version with blue active. So the resource
    carries no tags (a change of the stack tags would be such an update) and its properties must stay as
    they are; the snapshot tests show any change in review.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: ReleaseSlotsProps) -> None:
        super().__init__(scope, construct_id)
        self.parameter_name = props.parameter_name
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=props.parameter_name,
            description=(
                f"{props.prefix}: active blue/green slot and each slot's job-assets version; "
                "written by lakehouse promote and rollback, never by a deploy."
            ),
            # A constant: see the class docstring before changing anything about this resource.
            string_value=INITIAL_VALUE,
            tier=ssm.ParameterTier.STANDARD,
        )
        resource = self.parameter.node.default_child
        assert isinstance(resource, ssm.CfnParameter)
        # Stack tags are rendered at synth; dropping the property keeps a tag change from being an update.
        resource.add_property_deletion_override("Tags")
        self.parameter_arn = self.parameter.parameter_arn
