"""One construct per module, each with a frozen keyword-only props dataclass beside it."""
