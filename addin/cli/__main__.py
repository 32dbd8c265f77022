"""``python -m addin.cli``: the ``clearquote`` command without the console script."""

import sys

from addin.cli import main

sys.exit(main())
