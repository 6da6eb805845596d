import sys

from sluice_pipelines.runner import main

sys.exit(main())
