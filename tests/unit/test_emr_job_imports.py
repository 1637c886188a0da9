"""The job archive imports nothing EMR Serverless does not provide (docs/DEPLOYMENT.md, "The job environment").

On EMR the jobs run on the image's Python 3.9 with the job archive on ``spark.submit.pyFiles``; nothing of
this project's virtualenv is there. A static scan of every module in ``job_assets/`` (imports at module
level and inside functions alike) lists what the archive imports and fails on anything that is not the
standard library, the archive itself, or an entry of :data:`ON_EMR` (each says where EMR gets it). The
spark-submit tests then run the archive on a bare 3.9 (tests/cdk/test_pipeline_execution.py).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "job_assets"

ON_EMR = {
    "pyspark": "the image's Spark: SPARK_HOME/python/lib/pyspark.zip is on the driver's and executors' path",
    "py4j": "the image's Spark: SPARK_HOME/python/lib/py4j-*-src.zip",
    "boto3": "the release's pydeps.zip (cdk/emr_requirements.txt), spark.archives ...#pydeps",
    "botocore": "the release's pydeps.zip (cdk/emr_requirements.txt), spark.archives ...#pydeps",
}
"""Third-party modules the jobs import on EMR, with where EMR gets each."""
LOCAL_ONLY = {
    "deltalake": {
        "job_assets/engine/delta_rs.py": "the delta-rs engine; EMR's engine is delta-spark (auto)",
        "job_assets/delta_read.py": "the CLI's and notebooks' read-only reader; no job calls it",
    },
    "pyarrow": {
        "job_assets/engine/delta_rs.py": "the delta-rs engine; EMR's engine is delta-spark (auto)",
        "job_assets/delta_read.py": "the CLI's and notebooks' read-only reader; no job calls it",
    },
    "openlineage": {
        "job_assets/lineage.py": "the opt-in `--lineage openlineage` transport; cdk.json allows none/https"
    },
}
"""Modules EMR does not have, each imported lazily by one module that EMR never runs that way."""
NEWER_THAN_39 = {"tomllib", "_tomllib"}
"""Standard-library modules Python 3.11 has and emr-7.12.0's 3.9 does not."""
SHIPPED_PINS = {"boto3", "botocore"}


def imports() -> dict[str, set[str]]:
    """Top-level module name -> the files (relative to the repository) that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.relative_to(REPO).as_posix())
    return found


def test_every_import_of_the_archive_is_available_on_emr():
    problems = []
    for module, files in sorted(imports().items()):
        if module in ("__future__", "job_assets") or module in ON_EMR:
            continue
        if module in sys.stdlib_module_names and module not in NEWER_THAN_39:
            continue
        if module in LOCAL_ONLY and files <= set(LOCAL_ONLY[module]):
            continue
        problems.append(f"{module} (imported by {', '.join(sorted(files))})")
    assert not problems, "EMR's Python does not have: " + "; ".join(problems)


def test_the_scan_sees_lazy_imports_and_the_known_third_party_ones():
    """The scan is not vacuous: it finds imports inside functions, which is where the risky ones live."""
    found = imports()
    assert "job_assets/run_metrics.py" in found["boto3"]  # inside send()
    assert found["deltalake"] == {"job_assets/engine/delta_rs.py", "job_assets/delta_read.py"}  # inside functions
    assert "job_assets/jobs/silver.py" in found["pyspark"]


def test_no_module_uses_deltas_python_api():
    """docs/adr/0001: the delta-spark engine goes through Spark SQL and the DataFrame writer; the Python
    module ``delta`` (in delta-spark.jar, not on EMR's Python path) is imported nowhere in the archive."""
    assert "delta" not in imports()


def test_local_only_modules_stay_out_of_what_emr_imports():
    """The modules that import them are not imported at module level by anything an entrypoint loads."""
    for module, owners in LOCAL_ONLY.items():
        for owner in owners:
            tree = ast.parse((REPO / owner).read_text(encoding="utf-8"))
            top_level = {
                alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names
            } | {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
            assert module not in top_level, f"{owner} imports {module} at module level"


@pytest.mark.parametrize("module", sorted(SHIPPED_PINS))
def test_shipped_modules_are_pinned_for_emr(module):
    from cdk.packaging import requirement_pins

    pins = requirement_pins()
    assert pins.get(module), f"{module} is imported on EMR but not pinned in cdk/emr_requirements.txt"
    assert set(ON_EMR) - {"pyspark", "py4j"} == SHIPPED_PINS


def test_the_archive_and_the_job_agree_on_where_the_dependencies_unpack():
    from cdk.packaging import DEPS_ALIAS
    from job_assets.shipped import DEPS_ALIAS as JOB_ALIAS

    assert DEPS_ALIAS == JOB_ALIAS
