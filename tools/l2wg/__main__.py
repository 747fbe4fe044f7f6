"""`python -m l2wg`: the same as the l2wg command."""

import sys

from .cli import main

sys.exit(main())
