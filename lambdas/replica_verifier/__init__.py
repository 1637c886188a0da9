"""DR replica verifier: every replicated Delta table's files are all there, and how far the replica lags."""
