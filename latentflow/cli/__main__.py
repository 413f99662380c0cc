"""``python -m latentflow.cli COMMAND ...``: the console script without its installed wrapper."""

import sys

from latentflow.cli import main

sys.exit(main())
