"""Entry point of the photo denoiser's web app (and of the Hugging Face Space): `python app.py`
serves it at http://127.0.0.1:7860. The app itself is the denoiser_app package."""

import sys

from denoiser_app import main

if __name__ == "__main__":
    sys.exit(main())
