"""``python -m localcloud``: see localcloud/cli.py."""

import sys

from localcloud.cli import main

sys.exit(main())
