"""`python -m train ...` from a clone: a thin shim over the trainer, which is installed as
`denoiser_train` (a package named `train` in site-packages would collide with users' own).
This folder is not part of the wheel."""
