"""The entry point both benchmark scripts share: SIGTERM (a CI timeout, `kill`) unwinds like
Ctrl-C, so every child they started is stopped on the way out, and either ends with 130."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_main(main: Callable[[], int]) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return main()
    except KeyboardInterrupt:  # the children are already stopped
        print("interrupted", file=sys.stderr)
        return 130
