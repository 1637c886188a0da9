"""A gold build's definition fingerprint (job_assets/jobs/gold_build.py) holds every flag as the build resolves
it: a default that changes in a release is another definition, and a flag given at its default is not."""

from __future__ import annotations

from job_assets import flags as F
from job_assets.jobs import gold_build

TABLE = "gold.revenue_attribution"


def test_a_changed_default_is_another_definition(monkeypatch):
    before = gold_build.definition(TABLE, {})
    assert gold_build.definition(TABLE, {"attribution_model": "last_touch"}) == before  # the default, given
    assert gold_build.definition(TABLE, {"attribution_model": "first_touch"}) != before
    assert gold_build.definition(TABLE, {"gold_by_month": "always"}) == before  # how, not what, it builds
    spec = F.FLAGS["attribution_model"]
    monkeypatch.setitem(F.FLAGS, "attribution_model", F.Flag(spec.values, "first_touch", spec.description))
    assert gold_build.definition(TABLE, {}) != before
    assert gold_build.resolved({}) == {"attribution_model": "first_touch", "gold_by_month": "never"}
