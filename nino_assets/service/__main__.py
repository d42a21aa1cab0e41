import sys

from nino_assets.service.server import main

sys.exit(main())
