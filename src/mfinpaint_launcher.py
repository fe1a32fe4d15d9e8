"""Entry point of the ``mfinpaint`` console script.

This module lies outside the ``mfinpaint`` package, so that importing it
loads nothing else. It then imports the command line inside a handler for
Ctrl-C, because loading NumPy, SciPy, scikit-image and Matplotlib takes
seconds, and an interrupt during those imports would end in a traceback.
"""

import sys

EXIT_INTERRUPTED = 130


def console_main():
    """Run the command line and exit with its status."""
    try:
        from mfinpaint.cli import main
    except KeyboardInterrupt:
        print(
            "mfinpaint: interrupted while starting; nothing was written.",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(main())
