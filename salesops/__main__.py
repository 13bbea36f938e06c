"""``python -m salesops ...``: the command line (DESIGN.md section 6)."""
import sys

from salesops.cli import main

if __name__ == "__main__":
    sys.exit(main())
