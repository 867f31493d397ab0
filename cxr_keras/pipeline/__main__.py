"""``python -m cxr_keras.pipeline``: see :mod:`cxr_keras.pipeline.cli`."""

import sys

from cxr_keras.pipeline.cli import main

sys.exit(main())
