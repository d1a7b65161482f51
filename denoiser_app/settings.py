"""The app's settings, read once from the environment into one frozen object.

    DENOISER_MODEL               the one model to serve (a shipped name, a weights folder or a Hub
                                 repo id `owner/name[@revision]`); unset: every shipped model
    DENOISER_MAX_PIXELS          largest accepted image in pixels (default 50 MP)
    DENOISER_COMPARE_MAX_PIXELS  the Compare tab runs on a centre crop of this many pixels (36864: 192x192)
    DENOISER_QUEUE_SIZE          requests waiting before new ones are refused (64)
    DENOISER_CONCURRENCY         requests processed at once (1, for a 2-vCPU Space)
    DENOISER_MAX_FILE_SIZE       upload size limit, e.g. "200mb" (gradio's max_file_size)
    DENOISER_OUTPUT_TTL          seconds result files are kept on disk (3600)
    DENOISER_ADAPT_MINUTES       the most minutes "Adapt to this photo" learns a photo's noise for (5); 0 hides
                                 the option (on a shared server one adapting request holds a slot that long)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _number(environ: Mapping[str, str], name: str, default: float, kind: type = int, minimum: float = 1) -> float:
    """The variable `name` as an int (or, kind=float, any number), at least `minimum`; `default` when unset."""
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None
    if not number >= minimum:  # also refuses nan
        raise ValueError(f"{name} must be at least {minimum:g}, got {value}")
    return number


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    max_pixels: int = 50_000_000
    compare_max_pixels: int = 36_864  # 192 x 192: a Compare costs about one Denoise of a 512 x 512 photo
    queue_size: int = 64
    concurrency: int = 1
    max_file_size: str = "200mb"
    output_ttl: int = 3600
    adapt_minutes: float = 5.0  # denoiser_train.adapt.PHOTO_MINUTES (the README's per-photo table)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default os.environ); a bad value raises ValueError naming it."""
        env = os.environ if environ is None else environ
        return cls(
            model=(env.get("DENOISER_MODEL") or "").strip() or None,
            max_pixels=_number(env, "DENOISER_MAX_PIXELS", cls.max_pixels),
            compare_max_pixels=_number(env, "DENOISER_COMPARE_MAX_PIXELS", cls.compare_max_pixels),
            queue_size=_number(env, "DENOISER_QUEUE_SIZE", cls.queue_size),
            concurrency=_number(env, "DENOISER_CONCURRENCY", cls.concurrency),
            max_file_size=(env.get("DENOISER_MAX_FILE_SIZE") or "").strip() or cls.max_file_size,
            output_ttl=_number(env, "DENOISER_OUTPUT_TTL", cls.output_ttl),
            adapt_minutes=_number(env, "DENOISER_ADAPT_MINUTES", cls.adapt_minutes, float, minimum=0),
        )

    @property
    def prune_interval(self) -> int:
        """Seconds between clean-ups of result files older than output_ttl (ours and gradio's cache)."""
        return max(1, min(1800, self.output_ttl // 2))
