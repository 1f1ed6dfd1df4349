import sys

from service.testgen.cli import main

sys.exit(main())
