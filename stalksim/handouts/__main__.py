"""`python -m stalksim.handouts OUT/` (until `python -m stalksim handouts` is wired)."""

import sys

from stalksim.handouts import main

sys.exit(main())
