"""Entry point of the photo denoiser's web app (and of the Hugging Face Space): `python app.py`
serves it at http://127.0.0.1:7860. The app itself is the denoiser_app package."""

import sys

if __name__ == "__main__":
    print("denoiser app: starting (importing gradio and torch)…", flush=True)  # before the imports' seconds

    from denoiser_app import main

    sys.exit(main())
