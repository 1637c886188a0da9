"""DR failover and failback to the standby in the DR region (``dr.standby``; runbooks/dr-failover.md).

:mod:`.sites` reads each region's deployment; :mod:`.replica` compares the two copies of every Delta table;
:mod:`.lag` reads S3's replication latency; :mod:`.sync` copies back what the DR region wrote; :mod:`.switch`
holds ``status``, ``failover`` and ``failback``.
"""

from .replica import Comparison, TableState, compare
from .sites import DrError, DrSetup, Site
from .switch import failback, failover, recovery_point, status

__all__ = [
    "Comparison",
    "DrError",
    "DrSetup",
    "Site",
    "TableState",
    "compare",
    "failback",
    "failover",
    "recovery_point",
    "status",
]
