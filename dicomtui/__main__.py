import sys

from dicomtui.cli import main

sys.exit(main())
