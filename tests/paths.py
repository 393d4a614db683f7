"""Where the tests' files are."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"  # host roots whose values are known
HOSTROOT = FIXTURES / "hostroot"  # the one most tests read
