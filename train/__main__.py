import sys

from denoiser_train.__main__ import main

sys.exit(main())
