"""What every lakehouse stack uses: typed configuration, constructs, compliance checks and packaging."""
