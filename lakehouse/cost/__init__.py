"""``lakehouse cost estimate``: the monthly AWS cost of an environment at N landing records a day.

:mod:`.settings` reads the environment from ``cdk.json``; :mod:`.data` the dated price table
(``prices.json``) and the measured figures and assumptions (``measured.json``); :mod:`.model` holds the
types and :mod:`.components` the arithmetic, one function per component; :mod:`.report` renders the table,
the JSON and the comparison the guide (docs/guides/COST_OPTIMIZATION.md) embeds.
"""
