"""`python -m cnncost ...`, as the `cnncost` command."""
import sys

from .cli import main

sys.exit(main())
