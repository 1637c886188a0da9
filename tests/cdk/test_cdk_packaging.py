"""The job-assets archive is reproducible and its version is a content hash."""

from __future__ import annotations

import zipfile
from pathlib import Path

from cdk.packaging import ARCHIVE_NAME, build_archive, bundle_job_assets


def make_package(root: Path) -> Path:
    package = root / "job_assets"
    (package / "entrypoints").mkdir(parents=True)
    (package / "__init__.py").write_text('"""pkg"""\n')
    (package / "entrypoints" / "__init__.py").write_text("")
    (package / "entrypoints" / "bronze.py").write_text("print('bronze')\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return package


def test_same_code_same_version(tmp_path: Path) -> None:
    package = make_package(tmp_path / "a")
    first = bundle_job_assets(package, tmp_path / "out1")
    (package / "__init__.py").touch()  # a new mtime alone must not change anything
    second = bundle_job_assets(package, tmp_path / "out2")
    assert first.version == second.version
    assert (first.directory / ARCHIVE_NAME).read_bytes() == (second.directory / ARCHIVE_NAME).read_bytes()


def test_changed_code_new_version(tmp_path: Path) -> None:
    package = make_package(tmp_path)
    before = bundle_job_assets(package, tmp_path / "out").version
    (package / "entrypoints" / "bronze.py").write_text("print('bronze v2')\n")
    assert bundle_job_assets(package, tmp_path / "out").version != before


def test_archive_is_sorted_without_caches_and_with_fixed_times(tmp_path: Path) -> None:
    package = make_package(tmp_path)
    with zipfile.ZipFile(__import__("io").BytesIO(build_archive(package))) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert names == [
            "job_assets/__init__.py",
            "job_assets/entrypoints/__init__.py",
            "job_assets/entrypoints/bronze.py",
        ]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_bundle_holds_archive_and_entrypoints(tmp_path: Path) -> None:
    bundle = bundle_job_assets(make_package(tmp_path), tmp_path / "out")
    assert bundle.entrypoints == ("bronze",)
    assert sorted(p.relative_to(bundle.directory).as_posix() for p in bundle.directory.rglob("*") if p.is_file()) == [
        "entrypoints/bronze.py",
        ARCHIVE_NAME,
    ]
    assert bundle.directory.name == bundle.version and len(bundle.version) == 16


def test_a_release_ships_the_pinned_emr_dependencies_reproducibly(tmp_path: Path) -> None:
    """pydeps.zip: the pinned wheels' modules (downloaded by make install), botocore cut to the services the
    jobs call, the same bytes on every build, and part of the version (a dependency bump is a new release)."""
    import io

    from cdk.packaging import BOTOCORE_SERVICES, DEPS_ARCHIVE_NAME, EMR_DEPS_DIR, build_deps_archive, requirement_pins

    package = make_package(tmp_path)
    bundle = bundle_job_assets(package, tmp_path / "out", deps_dir=EMR_DEPS_DIR)
    assert bundle.has_deps and bundle.version != bundle_job_assets(package, tmp_path / "bare").version
    deps = (bundle.directory / DEPS_ARCHIVE_NAME).read_bytes()
    assert deps == build_deps_archive(EMR_DEPS_DIR)
    with zipfile.ZipFile(io.BytesIO(deps)) as archive:
        names = archive.namelist()
    assert names == sorted(names)
    tops = {n.split("/")[0] for n in names}
    for name, version in requirement_pins().items():
        assert f"{name}-{version}.dist-info" in tops, name
    assert {"boto3", "botocore", "dateutil", "jmespath", "s3transfer", "urllib3", "six.py"} <= tops
    services = {n.split("/")[2] for n in names if n.startswith("botocore/data/") and n.count("/") > 3}
    assert services == set(BOTOCORE_SERVICES)
    assert "botocore/data/endpoints.json" in names and len(deps) < 3_000_000


def test_missing_emr_dependencies_say_to_run_make_install(tmp_path: Path) -> None:
    import pytest

    from cdk.packaging import EmrDepsMissingError

    with pytest.raises(EmrDepsMissingError, match=r"boto3==[\d.]+ for EMR is not downloaded .* run `make install`"):
        bundle_job_assets(make_package(tmp_path), tmp_path / "out", deps_dir=tmp_path / "no-wheels")
