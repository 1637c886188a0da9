"""The lake's layout, defined once for every package: its layers in pipeline order, and gold's serving slots.

The jobs, the CLI, the CDK stacks and the Lambdas all import these names from here (the bottom layer,
shipped with the jobs and with every Lambda), so a layer or a slot is never spelt out twice.
"""

from __future__ import annotations

LAYERS = ("bronze", "silver", "gold")
"""The Delta layers, in pipeline order: a bucket each on AWS, a folder each of a local lake root."""
ZONES = ("landing", *LAYERS)
"""Every top-level location of a lake: the landing zone (raw extracts), then the layers."""
JOBS = (*LAYERS, "maintenance")
"""The Spark jobs: one per layer, in pipeline order, then maintenance (on its own schedule)."""
SLOTS = ("blue", "green")
"""Gold's write-audit-publish slots: readers follow the active one, a run writes the other first."""
SLOTTED_LAYERS = ("gold",)
"""The layers that have slots (``gold/<slot>/``)."""
