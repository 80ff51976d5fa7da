"""python -m mip4 ..."""
import sys

from mip4.cli import main

sys.exit(main())
