"""The operator CLI's error for bad input, importable by every command module without importing the CLI."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the operator: printed as one clear line, exit code 2."""
