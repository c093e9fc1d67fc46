"""``python -m zifsim`` = ``zifsim``."""
import sys

from zifsim.cli import main

sys.exit(main())
