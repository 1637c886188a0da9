"""One job per layer: read -> transform -> DQ -> write -> run summary."""
