"""Failure notifier: failed EMR Serverless job runs and pipeline executions -> one readable alert (SNS)."""
