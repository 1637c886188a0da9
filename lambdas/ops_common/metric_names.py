"""Custom metrics the operational Lambdas publish (namespace, names, dimensions).

Dependency-free on purpose: the CDK stacks import it to build alarms on exactly these names.
"""

from __future__ import annotations

NAMESPACE = "Lakehouse"

# Dimensions
ENVIRONMENT = "Environment"
TABLE = "Table"
JOB = "Job"

# Freshness monitor: minutes since the table's last Delta commit (dimensions: Environment, Table).
FRESHNESS_MINUTES = "FreshnessMinutes"
# DR replica verifier (dimensions: Environment, Table; and Environment alone for the all-tables figure).
REPLICA_CONSISTENT = "ReplicaConsistent"
REPLICA_LAG_VERSIONS = "ReplicaLagVersions"
REPLICA_LAG_MINUTES = "ReplicaLagMinutes"
REPLICA_MISSING_FILES = "ReplicaMissingFiles"
# Cost reporter (dimensions: Environment, Job).
JOB_COST_USD = "JobCostUSD"
COST_PER_MILLION_RECORDS = "CostPerMillionRecords"
# Landing intake (dimensions: Environment).
INTAKE_ACCEPTED = "IntakeObjectsAccepted"
INTAKE_REJECTED = "IntakeObjectsRejected"
