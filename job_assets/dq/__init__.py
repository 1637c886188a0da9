"""Data quality: rules from the contracts, evaluated row by row (quarantine/warn/fail) or per table."""

from .rules import DataQualityError, RuleStat, evaluate_rows, failed_expr, flag_rows, results_rows, table_checks

__all__ = ["DataQualityError", "RuleStat", "evaluate_rows", "failed_expr", "flag_rows", "results_rows", "table_checks"]
