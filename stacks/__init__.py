"""One stack per file; ``build_environment`` composes an environment's stacks in deployment order."""
