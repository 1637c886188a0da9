"""job_assets runs on emr-7.12.0's default Python (3.9): hold its syntax and imports to that floor."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "job_assets").rglob("*.py"))
# What an EMR Serverless job has without a custom image: the standard library, pyspark, delta-spark, boto3
ALLOWED_TOP_LEVEL = {"pyspark", "delta", "boto3", "botocore", "job_assets"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_parses_as_python_3_9(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_level_imports_exist_on_emr(path):
    """deltalake/pyarrow may only be imported inside functions (the delta-rs engine), never at module level."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            assert top in ALLOWED_TOP_LEVEL or top in sys.stdlib_module_names, f"{path.name}: imports {name}"


def test_no_3_10_only_dataclass_options():
    for path in FILES:
        text = path.read_text()
        assert "kw_only=" not in text and "slots=True" not in text, f"{path.name} uses a 3.10+ dataclass option"


def test_ruff_holds_job_assets_to_py39():
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert cfg["tool"]["ruff"]["per-file-target-version"]["job_assets/**/*.py"] == "py39"
