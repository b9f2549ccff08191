"""Start vmgui (same as the ``vmgui`` console script)."""

import sys

from vmgui.app import main

if __name__ == "__main__":
    sys.exit(main())
