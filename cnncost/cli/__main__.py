"""`python -m cnncost.cli ...`, as the `cnncost` command."""
import sys

from . import main

sys.exit(main())
