"""`python -m sc2_lsp`: the same as the `sc2-lsp` command."""

import sys

from sc2_lsp.cli import main

sys.exit(main())
