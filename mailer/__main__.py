"""`python -m mailer`."""

import sys

from mailer.cli import main

sys.exit(main())
