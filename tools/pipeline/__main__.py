"""``python -m tools.pipeline``: see :mod:`tools.pipeline.cli`."""

import sys

from tools.pipeline.cli import main

sys.exit(main())
