"""The operator CLI's AWS commands against moto: `lakehouse dlq`, `pipeline`, `metric`, `alarms`
(lakehouse/ops/), promotion and rollback on a deployed environment (lakehouse/promotion/aws.py), and every
runbook command as written (runbooks/*.md). Fixtures come from tests/conftest.py (``aws``: a fresh moto
account); moto's gaps are filled in tests/moto_gaps.py. (No ``__init__.py``: module names are unique.)
"""
