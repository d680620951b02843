"""Shared by every test folder: the helper modules in tests/support (reference calculators, the
measured figures' readers, random-net strategies, the `assert_*` helpers that compare with PyTorch
and the peer tools) import by their plain names, and `FIXTURES` is the folder of measured
reference figures."""
from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
ROOT = TESTS.parent

for folder in (TESTS / "support", TESTS / "docs"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# Every `--format json` output a test makes through cnncost.cli.main is validated against its
# shipped JSON Schema (tests/support/schema_validation.py; needs jsonschema, the `test` extra).
import schema_validation  # noqa: E402

schema_validation.install()
