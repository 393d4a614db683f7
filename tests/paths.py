"""Where the tests' files are."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
HOSTROOT = TESTS / "fixtures" / "hostroot"  # a host root whose values are known
