"""``python -m lakehouse.cli``: the same as the ``lakehouse`` console script."""

import sys

from . import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
