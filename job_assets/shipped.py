"""Third-party modules the jobs import on EMR, shipped beside the job archive (docs/adr/0002).

EMR Serverless runs the jobs on the image's Python 3.9, which guarantees no third-party module. The
Compute stack ships the pinned wheels of ``cdk/emr_requirements.txt`` (boto3 and what it needs) as
``spark.archives=<release>/pydeps.zip#pydeps``; Spark unpacks it as ``pydeps/`` in the driver's working
directory (cluster deploy mode, as on EMR) or in ``SparkFiles``' root (client mode, local spark-submit).
:func:`use_shipped_dependencies` puts that folder first on ``sys.path`` before such an import. Locally,
without the archive, the project's virtualenv provides the modules and nothing changes.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

DEPS_ALIAS = "pydeps"
"""Equal to ``cdk.packaging.DEPS_ALIAS`` (a test keeps them equal)."""


def candidates() -> List[str]:
    """Where Spark may have unpacked the archive, in the order they are tried."""
    places = [os.path.join(os.getcwd(), DEPS_ALIAS)]
    try:
        from pyspark import SparkFiles

        places.append(os.path.join(SparkFiles.getRootDirectory(), DEPS_ALIAS))
    except Exception:  # no SparkContext yet: only the working directory
        pass
    return places


def use_shipped_dependencies() -> Optional[str]:
    """Put the unpacked ``pydeps/`` first on ``sys.path`` (once); returns it, or None when the job has none."""
    for place in candidates():
        if os.path.isdir(place):
            if place not in sys.path:
                sys.path.insert(0, place)
            return place
    return None
