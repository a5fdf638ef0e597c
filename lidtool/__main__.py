import sys

from lidtool.cli import main

sys.exit(main())
