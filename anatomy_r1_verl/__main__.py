"""``python -m anatomy_r1_verl ARGS`` is ``anatomy-r1 ARGS``."""

import sys

from anatomy_r1_verl.commands.cli import main

sys.exit(main())
