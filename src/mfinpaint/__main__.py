"""Run the command line with ``python -m mfinpaint``."""

import sys

from .cli import main

sys.exit(main())
