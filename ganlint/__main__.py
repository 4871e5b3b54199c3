"""`python -m ganlint` runs the command line."""

import sys

from ganlint.cli import main

sys.exit(main())
