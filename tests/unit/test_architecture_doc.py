"""docs/architecture/imports.md is generated from the code's imports and committed: it must not be stale."""

from __future__ import annotations

from pathlib import Path

from lakehouse.docs import architecture

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_diagram_is_up_to_date():
    assert architecture.stale_files(ROOT) == [], "run `python -m lakehouse.docs.architecture` and commit the diagram"


def test_the_diagram_draws_the_layers_downwards():
    nodes, pairs = architecture.edges(ROOT)
    assert {"lakehouse", "stacks", "cdk", "job_assets.contracts", "lambdas.ops_common"} <= set(nodes)
    layer = {"lakehouse": 0, "stacks": 1, "cdk": 2, "platform_model": 3, "job_assets": 4}
    for importer, imported in pairs:
        a, b = importer.split(".")[0], imported.split(".")[0]
        if a in layer and b in layer:
            assert layer[a] <= layer[b], f"{importer} -> {imported} points up the layers"
    assert ("stacks", "cdk") in pairs and ("lakehouse", "stacks") in pairs


def test_modules_are_grouped_by_subpackage():
    assert architecture.node("job_assets.engine.delta_rs") == "job_assets.engine"
    assert architecture.node("job_assets.spark") == "job_assets"
    assert architecture.node("lakehouse.cli") == "lakehouse"
    assert architecture.node("cdk.constructs.lake_bucket") == "cdk.constructs"
