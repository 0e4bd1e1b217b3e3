"""``python -m lifecircle``: the command line, as the ``lifecircle`` command."""

import sys

from lifecircle.cli import main

if __name__ == "__main__":
    sys.exit(main())
