"""uint8 image tensors -> PNG bytes (one grid, or one file per image for the JSON answer)."""

from __future__ import annotations

import base64
import io

import torch
from PIL import Image

from ..plots import make_grid


def png_bytes(image: torch.Tensor) -> bytes:
    """One uint8 image C x H x W (C = 1 or 3) as PNG bytes."""
    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def grid_png(images: torch.Tensor, nrow: int | None = None) -> bytes:
    """n uint8 images as one PNG grid (the grid the CLI's ``sample --out x.png`` writes)."""
    return png_bytes(make_grid(images, nrow))


def base64_pngs(images: torch.Tensor) -> list[str]:
    return [base64.b64encode(png_bytes(im)).decode("ascii") for im in images]
