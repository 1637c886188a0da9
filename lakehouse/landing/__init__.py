"""Recovering the lake's inputs from an operator's terminal.

:mod:`.skip` takes a landing file that crashes bronze out of the way and brings it back (``lakehouse landing
skip|retry``), through rows of the ingestion log; :mod:`.deleted` undoes an accidental deletion in a layer
bucket by removing the delete markers it left (``lakehouse recover-deleted``).
"""
