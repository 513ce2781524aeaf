"""`python -m layerlab ...` is the same as the `layerlab` command."""

import sys

from .cli import main

sys.exit(main())
