"""``python -m vmgui``: the same as the ``vmgui`` command."""

import sys

from vmgui.app import main

sys.exit(main())
