"""Entry point of the photo denoiser's web app (and of the Hugging Face Space): `python app.py`
serves it at http://127.0.0.1:7860. The app itself is the denoiser_app package."""

import os
import sys

if __name__ == "__main__":
    # numpy's BLAS serves only Compare's classical methods (torch has its own threads); on a shared
    # 2-vCPU machine a second BLAS thread spins against torch's: a 26 ms SVD took 0.9-3.5 s.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    print("denoiser app: starting (importing gradio and torch)…", flush=True)  # before the imports' seconds

    from denoiser_app import main

    sys.exit(main())
