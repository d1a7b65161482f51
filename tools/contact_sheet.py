"""A contact sheet for eyeballing real noise without a reference: one row per image, a crop of
the noisy input beside each model's result on the same crop.

    python -m tools.contact_sheet ../shared/data/real_noisy_only/RNI15 -o sheet.png \
        --model photo --model /path/to/older-model --images 6 --crop 256

Each crop is taken from the full-resolution result (the model sees the whole image), centred on
the image unless --at gives relative coordinates.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def crop(image: np.ndarray, size: int, at: tuple[float, float]) -> np.ndarray:
    h, w = image.shape[:2]
    size = min(size, h, w)
    y = int(np.clip(at[0] * h - size / 2, 0, h - size))
    x = int(np.clip(at[1] * w - size / 2, 0, w - size))
    return image[y : y + size, x : x + size]


def as_rgb8(image: np.ndarray) -> np.ndarray:
    from denoiser.io import from_float, to_float

    image = from_float(to_float(image), np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return image[..., :3]


def build_sheet(paths: list[Path], models: list, size: int, at: tuple[float, float]) -> Image.Image:
    import denoiser

    labels = ["noisy"] + [getattr(m, "name", "model") for m in models]
    rows = []
    for path in paths:
        image = denoiser.read_image(path)
        tiles = [as_rgb8(crop(image, size, at))] + [as_rgb8(crop(denoiser.denoise(image, m), size, at)) for m in models]
        side = min(t.shape[0] for t in tiles)
        rows.append(np.concatenate([t[:side, :side] for t in tiles], axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)
    canvas = Image.new("RGB", (sheet.shape[1], sheet.shape[0] + 20), "white")
    canvas.paste(Image.fromarray(sheet), (0, 20))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        draw.text((i * size + 4, 4), Path(str(label)).name, fill="black")
    return canvas


def main(argv: list[str] | None = None) -> int:
    import denoiser
    from denoiser.io import list_images

    parser = argparse.ArgumentParser(prog="python -m tools.contact_sheet", description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of noisy images")
    parser.add_argument("-o", "--output", required=True, help="PNG to write")
    parser.add_argument("--model", action="append", required=True, help="model to show (repeatable)")
    parser.add_argument("--images", type=int, default=6, help="first N images of the folder")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these images of the folder (file names without suffix), in this order")
    parser.add_argument("--crop", type=int, default=256, help="crop side in pixels")
    parser.add_argument("--at", type=float, nargs=2, default=(0.5, 0.5), metavar=("Y", "X"),
                        help="crop centre as fractions of height and width")
    args = parser.parse_args(argv)
    models = []
    for source in args.model:
        model = denoiser.load_model(source)
        model.name = Path(source).name or source
        models.append(model)
    paths = list_images(args.folder)
    if args.only:
        by_stem = {p.stem: p for p in paths}
        missing = [n for n in args.only if n not in by_stem]
        if missing:
            parser.error(f"not in {args.folder}: {missing}")
        paths = [by_stem[n] for n in args.only]
    paths = paths[: args.images] if not args.only else paths
    denoiser.write_image(args.output, np.asarray(build_sheet(paths, models, args.crop, tuple(args.at))))
    print(f"wrote {args.output} ({len(paths)} images x {len(models) + 1} columns)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
