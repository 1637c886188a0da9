"""Landing intake: S3 "Object Created" -> SQS (+ DLQ) -> this function -> intake manifest + pipeline start."""
