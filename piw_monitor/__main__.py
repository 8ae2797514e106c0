"""Run piw-monitor with ``python -m piw_monitor``."""

import sys

from .app import main

sys.exit(main())
