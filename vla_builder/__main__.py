import sys

from vla_builder.cli import main

sys.exit(main())
