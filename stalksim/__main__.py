"""`python -m stalksim`: see stalksim.cli."""

import sys

from stalksim.cli import main

if __name__ == "__main__":
    sys.exit(main())
