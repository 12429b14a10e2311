"""ADA's augmentation pipeline (Karras et al. 2020, "Training GANs with Limited Data", §2.3 and appendix B).

Every op fires independently per image with probability p; since each is invertible in distribution
for p < 0.8, D only ever sees augmented images and G cannot learn them ("non-leaking", §2.2).
All geometric ops are folded into one 3 x 3 matrix per image and applied by a single bilinear warp
with reflection padding. The warp is written with gather and arithmetic only, so it has a second
derivative in the image (R1 is taken through it; stock ``grid_sample`` has no double backward).
"""

from __future__ import annotations

import math

import torch

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "saturation")


def _translate(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3).repeat(len(tx), 1, 1)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3).repeat(len(sx), 1, 1)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate(theta: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3).repeat(len(theta), 1, 1)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = theta.cos(), -theta.sin(), theta.sin(), theta.cos()
    return m


def _reflect(u: torch.Tensor, size: int) -> torch.Tensor:
    """Mirror coordinates into [0, size - 1] (reflection padding, as the official pipeline)."""
    period = 2 * (size - 1)
    u = u.remainder(period)
    return torch.where(u > size - 1, period - u, u)


def warp(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling: output pixel q (centred coords) reads the input at matrix @ q.

    Built from gather and products with constants, so d/dx and d^2/dx^2 exist (x enters linearly).
    """
    b, c, h, w = x.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype) - (h - 1) / 2,
                            torch.arange(w, dtype=x.dtype) - (w - 1) / 2, indexing="ij")
    q = torch.stack([xs.flatten(), ys.flatten(), torch.ones(h * w, dtype=x.dtype)])  # 3 x HW
    src = matrix.to(x.dtype) @ q  # B x 3 x HW
    u = _reflect(src[:, 0] + (w - 1) / 2, w).to(x.device)
    v = _reflect(src[:, 1] + (h - 1) / 2, h).to(x.device)
    u0, v0 = u.floor().clamp(0, w - 2), v.floor().clamp(0, h - 2)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    u0, v0 = u0.long(), v0.long()
    flat = x.reshape(b, c, h * w)

    def at(vv: torch.Tensor, uu: torch.Tensor) -> torch.Tensor:
        return flat.gather(2, (vv * w + uu)[:, None].expand(b, c, -1))

    out = ((1 - fv) * ((1 - fu) * at(v0, u0) + fu * at(v0, u0 + 1))
           + fv * ((1 - fu) * at(v0 + 1, u0) + fu * at(v0 + 1, u0 + 1)))
    return out.reshape(b, c, h, w)


def sample_params(n: int, p: float, size: int, channels: int, cutout: bool = False) -> dict[str, torch.Tensor]:
    """Draw the ops of n images (global RNG): a boolean 'fires' mask per op, the geometric matrix, colour terms.

    Strengths as the official "bgc" pipeline: integer translation up to 0.125 of the size, scale
    lognormal(0, 0.2 ln 2), rotation uniform in (-pi, pi], fractional translation N(0, 0.125),
    brightness N(0, 0.2), contrast lognormal(0, 0.5 ln 2), saturation lognormal(0, ln 2).
    """
    ops = GEOMETRIC + COLOR[:2] + (("saturation",) if channels == 3 else ()) + (("cutout",) if cutout else ())
    fires = {op: torch.rand(n) < p for op in ops}
    one, zero = torch.ones(n), torch.zeros(n)
    f = {op: m.float() for op, m in fires.items()}
    m = torch.eye(3).repeat(n, 1, 1)
    m = m @ _scale(1 - 2 * f["xflip"] * torch.randint(0, 2, (n,)), one)
    m = m @ _rotate(f["rotate90"] * torch.randint(0, 4, (n,)) * (math.pi / 2))
    t = (torch.rand(n, 2) * 2 - 1) * 0.125 * size
    m = m @ _translate(f["xint"] * t[:, 0].round(), f["xint"] * t[:, 1].round())
    s = torch.exp2(torch.randn(n) * 0.2 * f["scale"])
    m = m @ _scale(s, s)
    m = m @ _rotate(f["rotate"] * (torch.rand(n) * 2 - 1) * math.pi)
    s = torch.exp2(torch.randn(n) * 0.2 * f["aniso"])
    m = m @ _scale(s, 1 / s)
    t = torch.randn(n, 2) * 0.125 * size * f["xfrac"][:, None]
    m = m @ _translate(t[:, 0], t[:, 1])
    params = {"fires": fires, "matrix": m,
              "brightness": torch.randn(n) * 0.2 * f["brightness"],
              "contrast": torch.exp2(torch.randn(n) * 0.5 * f["contrast"]),
              "saturation": torch.exp2(torch.randn(n) * (f["saturation"] if channels == 3 else zero))}
    if cutout:
        params["cutout_centre"] = torch.rand(n, 2)
    return params


def apply(x: torch.Tensor, params: dict[str, torch.Tensor], cutout_size: float = 0.5) -> torch.Tensor:
    """Apply drawn ops to x (B x C x H x W in [-1, 1]); skips the warp when no image has a geometric op."""
    dev = x.device
    if any(params["fires"][op].any() for op in GEOMETRIC):
        x = warp(x, params["matrix"])
    x = x + params["brightness"].to(dev)[:, None, None, None]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * params["contrast"].to(dev)[:, None, None, None]
    if x.shape[1] == 3 and params["fires"].get("saturation", torch.zeros(1, dtype=torch.bool)).any():
        luma = x.mean(dim=1, keepdim=True)  # the grey axis (1, 1, 1) / sqrt(3)
        x = luma + (x - luma) * params["saturation"].to(dev)[:, None, None, None]
    if "cutout_centre" in params:
        h, w = x.shape[-2:]
        ys = (torch.arange(h, device=dev) + 0.5) / h
        xs = (torch.arange(w, device=dev) + 0.5) / w
        c = params["cutout_centre"].to(dev)
        inside = (((xs[None, None, :] - c[:, 0, None, None]).abs() < cutout_size / 2)
                  & ((ys[None, :, None] - c[:, 1, None, None]).abs() < cutout_size / 2))
        keep = ~(inside & params["fires"]["cutout"].to(dev)[:, None, None])
        x = x * keep[:, None].to(x.dtype)
    return x


def augment(x: torch.Tensor, p: float, cutout: bool = False) -> torch.Tensor:
    """ADA's augmentation of a batch with probability p per op (p = 0: x itself, no RNG drawn)."""
    if p <= 0:
        return x
    return apply(x, sample_params(x.shape[0], float(p), x.shape[-1], x.shape[1], cutout))
