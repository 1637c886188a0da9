"""The access matrix of dev, computed from the session's synthesized templates, is pinned: a widening (a new
reader of a bucket, a new decrypter, a new principal reaching personal data) fails here and shows in review.

Update after a reviewed, intended change (docs/security/ACCESS_REVIEW.md):
``LAKEHOUSE_UPDATE_ACCESS_MATRIX=1 pytest tests/cdk/test_cdk_access_review.py`` rewrites the pinned file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cdk_testkit import Synthesized

from lakehouse.security.access_review import review
from lakehouse.security.templates import Assembly

ENV = "dev"
PINNED = Path(__file__).with_name(f"access_matrix_{ENV}.json")
UPDATE = "LAKEHOUSE_UPDATE_ACCESS_MATRIX"


def test_access_matrix_matches_the_pinned_one(lakehouse: Synthesized) -> None:
    matrix = review(Assembly.load(Path(lakehouse.assembly.directory), ENV), ENV)
    text = json.dumps(matrix, indent=2, sort_keys=True) + "\n"
    if os.environ.get(UPDATE) == "1":
        PINNED.write_text(text)
    assert PINNED.exists(), f"{PINNED.name} missing: run with {UPDATE}=1 and review the file"
    pinned = json.loads(PINNED.read_text())
    assert matrix == pinned, f"the access matrix of {ENV} changed: review it, then {UPDATE}=1 (ACCESS_REVIEW.md)"


def test_the_analyst_reaches_no_personal_data_and_no_lake_bucket(lakehouse: Synthesized) -> None:
    matrix = review(Assembly.load(Path(lakehouse.assembly.directory), ENV), ENV)
    analyst = f"Storage/{lakehouse.config.environments[ENV].data_access.analyst.role_name}"
    privileged = f"Storage/{lakehouse.config.environments[ENV].data_access.privileged.role_name}"
    assert analyst in matrix["principals"]
    for row in matrix["pii"]:
        assert analyst not in row["read_and_decrypt"] + row["lake_formation_select"], row["table"]
    segments = next(r for r in matrix["pii"] if r["table"] == "gold.customer_segments")
    assert segments["lake_formation_select"] == [privileged]
    for bucket in matrix["buckets"]:
        if bucket["zone"]:
            assert analyst not in bucket["read"] and privileged not in bucket["read"], bucket["bucket"]
