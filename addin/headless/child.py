"""The entry point of a book's child process: ``python -m addin.headless.child JOB``.

A module of its own that nothing imports: run as ``__main__``, it is never found imported
already through the package (``addin.headless`` imports :mod:`addin.headless.isolation` for
the Python API's caps, and runpy then warns into the child's stderr, which is what the parent
shows when a child dies).
"""

from __future__ import annotations

import sys
from pathlib import Path

from addin.headless.isolation import child_main

if __name__ == "__main__":
    sys.exit(child_main(Path(sys.argv[1])))
