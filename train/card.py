"""Temporary: a training run started before the trainer became `denoiser_train` imports `train.card`
when it exports its model. Delete this file once no such run is left (`ps`, `runs/*/log`)."""

from denoiser_train.card import render_run_card  # noqa: F401
