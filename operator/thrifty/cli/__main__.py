"""`python -m thrifty.cli`: the same as the `thrifty` command."""

import sys

from thrifty.cli import main

sys.exit(main())
