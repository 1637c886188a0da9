"""The light readers' table opener: a table, or None for a folder that holds none (one log listing)."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake

from job_assets.engine.delta_rs import arrow_table, open_table


def test_a_table_opens_and_reads(tmp_path):
    uri = str(tmp_path / "t")
    write_deltalake(uri, pa.table({"id": [1, 2], "name": ["a", "b"]}))
    table = open_table(uri)
    assert table is not None and table.version() == 0
    assert arrow_table(table, ["name"]).to_pylist() == [{"name": "a"}, {"name": "b"}]


def test_no_table_is_none(tmp_path):
    assert open_table(str(tmp_path / "missing")) is None
    (tmp_path / "empty").mkdir()
    assert open_table(str(tmp_path / "empty")) is None
