"""The names the operational Lambdas publish under, taken from the metric catalog.

``job_assets/contracts/metrics.py`` is the single source (namespace, names, dimensions, units, alarms); this
module only gives the Lambdas short names for the entries they publish. Our namespace is per environment:
``Lakehouse/<env>`` (:func:`namespace`).
"""

from __future__ import annotations

from job_assets.contracts import metrics as catalog

namespace = catalog.our_namespace

# Dimensions
ENVIRONMENT = catalog.ENVIRONMENT
TABLE = catalog.TABLE
JOB = catalog.JOB

# Freshness monitor: minutes since the table's last Delta commit (dimensions: Environment, Table).
FRESHNESS_MINUTES = catalog.metric("freshness_minutes").name
# DR replica verifier (dimensions: Environment, Table; and Environment alone for the all-tables figure).
REPLICA_CONSISTENT = catalog.metric("replica_consistent").name
REPLICA_LAG_VERSIONS = catalog.metric("replica_lag_versions").name
REPLICA_LAG_MINUTES = catalog.metric("replica_lag_minutes").name
REPLICA_MISSING_FILES = catalog.metric("replica_missing_files").name
# Cost reporter (dimensions: Environment, Job).
JOB_COST_USD = catalog.metric("job_cost_usd").name
COST_PER_MILLION_RECORDS = catalog.metric("cost_per_million_records").name
# Landing intake (dimensions: Environment).
INTAKE_ACCEPTED = catalog.metric("intake_accepted").name
INTAKE_REJECTED = catalog.metric("intake_rejected").name
