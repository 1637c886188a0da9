"""The recovery commands' refusal, importable without the rest of the package (the CLI's parser needs it)."""

from __future__ import annotations

from ..errors import UsageError


class RecoveryError(UsageError):
    """Bad input or a refusal: one line for the operator (exit 2), nothing changed."""
