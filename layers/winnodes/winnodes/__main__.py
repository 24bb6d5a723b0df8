"""`python -m winnodes`: the `winnodes` command, for when the console script is not on PATH."""

import sys

from winnodes.cli import main

sys.exit(main())
