"""The denoising U-Net of DDPM (Ho et al., 2020), a plain ``nn.Module``, shared by the kinds that denoise or
transport images (the DDPM predicts noise or v with it, the flow a velocity).

``UNet(xt, t, y)``: noisy images ``xt`` (B x C x H x W), timesteps ``t`` (B, int or
float in [0, num_steps)), optional labels ``y`` (B int64; ``num_classes`` means
"no class", the learned null class of classifier-free guidance) -> B x C x H x W
(the predicted noise ``eps_pred``, or ``v`` for v-prediction; the network does not care).

Layout: a 3x3 input conv, then per resolution level ``num_res_blocks`` residual blocks
(GroupNorm -> SiLU -> conv, with the time(+class) embedding added in between, dropout
before the second conv) and self-attention at the resolutions listed in
``attn_resolutions``; a strided-conv downsample between levels; a middle
ResBlock-Attention-ResBlock; the mirrored decoder with skip connections and
nearest-neighbour upsampling. Channel widths are ``base_channels * channel_mults[level]``.
With ``channel_mults`` of length L the image side must be divisible by 2**(L-1):
28 px -> (1, 2, 2) gives 28/14/7, 32 px -> 32/16/8, 64 px -> (1, 2, 2, 2) gives 64/32/16/8.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding (Transformer positions, as in DDPM): t (B) -> B x dim float32."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the autocast dtype: its statistics need the precision, and
    CPU autocast would run it in bf16, about 3x slower than float32 on channels-last activations.

    With one group (``norm_groups = 1``) on channels-last input the statistics run over each image's
    contiguous H x W x C block, which is exactly a LayerNorm over that block: the CPU's layer-norm kernel
    takes bf16 in with float32 statistics and runs forward and backward about 2x faster than the float32
    group norm plus its two casts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            if self.num_groups == 1 and x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
                _, c, h, w = x.shape
                weight, bias = self.weight, self.bias
                if x.device.type != "cpu":  # the CPU kernel accepts float32 weights with bf16 input; match elsewhere
                    weight, bias = weight.to(x.dtype), bias.to(x.dtype)
                return F.layer_norm(x.permute(0, 2, 3, 1), (h, w, c), weight.expand(h, w, c), bias.expand(h, w, c),
                                    self.eps).permute(0, 3, 1, 2)
            return F.group_norm(x.float(), self.num_groups, self.weight, self.bias, self.eps).to(x.dtype)


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with at most ``groups`` groups of at least 4 channels each (32 groups at 128+ channels);
    ``groups = 1`` normalises over all channels."""
    g = next(g for g in range(max(1, min(groups, channels // 4)), 0, -1) if channels % g == 0)
    return GroupNorm32(g, channels)


def _zero(module: nn.Module) -> nn.Module:
    """Zero-initialise the last layer of a residual branch so every block starts as the identity."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """x (B x C_in x H x W), emb (B x E) -> B x C_out x H x W."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float, groups: int):
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.drop = _norm(c_out, groups), nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """``emb``: the time(+class) embedding after its SiLU (B x E)."""
        h = self.conv1(F.silu(self.norm1(x)))
        e = self.emb(emb)[:, :, None, None].expand_as(h)
        if h.device.type == "cpu":  # a bf16 add broadcast over few channels-last channels is ~4x slower there
            e = e.contiguous(memory_format=torch.channels_last)
        h = h + e
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over the H*W positions (scaled_dot_product_attention), residual."""

    def __init__(self, channels: int, heads: int, groups: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"attention: {channels} channels do not split into {heads} heads; "
                             f"choose base_channels * mult divisible by attn_heads")
        self.heads = heads
        self.norm = _norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = _zero(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        if x.device.type == "cpu":  # the CPU's bf16 attention backward is ~10x slower than float32 at these sizes
            with torch.autocast("cpu", enabled=False):
                a = F.scaled_dot_product_attention(q.float(), k.float(), v.float()).to(q.dtype)
        else:
            a = F.scaled_dot_product_attention(q, k, v)  # B x heads x HW x C/heads
        return x + self.out(a.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """Denoising U-Net; see the module docstring. ``num_classes = 0`` makes it unconditional."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, base_channels: int = 32,
                 channel_mults: tuple[int, ...] = (1, 2, 2), num_res_blocks: int = 1,
                 attn_resolutions: tuple[int, ...] = (7,), attn_heads: int = 4, dropout: float = 0.1,
                 num_classes: int = 0, groups: int = 32):
        super().__init__()
        levels = len(channel_mults)
        if levels < 1 or image_size % 2 ** (levels - 1):
            raise ValueError(f"parameter 'channel_mults' = {tuple(channel_mults)} needs image_size divisible by "
                             f"{2 ** (levels - 1)}, got {image_size}; e.g. (1, 2, 2) for 28 or 32 px, "
                             f"(1, 2, 2, 2) for 64 px")
        sizes = [image_size // 2 ** i for i in range(levels)]
        bad = [r for r in attn_resolutions if r not in sizes]
        if bad:
            raise ValueError(f"parameter 'attn_resolutions' = {tuple(attn_resolutions)}: {bad} is not a feature-map "
                             f"size of this U-Net; choose from {sizes}")
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        emb_dim = 4 * base_channels
        self.base_channels = base_channels
        self.time_mlp = nn.Sequential(nn.Linear(base_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # Index num_classes is the learned "null" class (label dropped), used for classifier-free guidance.
        self.class_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.conv_in = nn.Conv2d(in_channels, base_channels, 3, padding=1)

        self.down = nn.ModuleList()
        skips, ch = [base_channels], base_channels
        for level, mult in enumerate(channel_mults):
            for _ in range(num_res_blocks):
                c_out = base_channels * mult
                blocks = [ResBlock(ch, c_out, emb_dim, dropout, groups)]
                if sizes[level] in attn_resolutions:
                    blocks.append(Attention(c_out, attn_heads, groups))
                self.down.append(nn.ModuleList(blocks))
                ch = c_out
                skips.append(ch)
            if level < levels - 1:
                self.down.append(nn.ModuleList([Downsample(ch)]))
                skips.append(ch)

        mid_attn = Attention(ch, attn_heads, groups)
        self.mid = nn.ModuleList([ResBlock(ch, ch, emb_dim, dropout, groups), mid_attn,
                                  ResBlock(ch, ch, emb_dim, dropout, groups)])

        self.up = nn.ModuleList()
        for level in reversed(range(levels)):
            for _ in range(num_res_blocks + 1):
                c_out = base_channels * channel_mults[level]
                blocks = [ResBlock(ch + skips.pop(), c_out, emb_dim, dropout, groups)]
                if sizes[level] in attn_resolutions:
                    blocks.append(Attention(c_out, attn_heads, groups))
                self.up.append(nn.ModuleList(blocks))
                ch = c_out
            if level > 0:
                self.up.append(nn.ModuleList([Upsample(ch)]))
        self.norm_out = _norm(ch, groups)
        self.conv_out = _zero(nn.Conv2d(ch, in_channels, 3, padding=1))

    @property
    def null_class(self) -> int:
        """The label index meaning "no class" (classifier-free guidance)."""
        return self.num_classes

    def forward(self, xt: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.base_channels))
        if self.class_emb is not None:
            if y is None:
                y = torch.full((xt.shape[0],), self.null_class, dtype=torch.long, device=xt.device)
            emb = emb + self.class_emb(y)
        elif y is not None:
            raise ValueError("this U-Net is unconditional (num_classes = 0): pass y=None")
        emb = F.silu(emb)  # every block projects SiLU(emb): computed once
        h = self.conv_in(xt)
        hs = [h]
        for blocks in self.down:
            for block in blocks:
                h = block(h, emb)
            hs.append(h)
        for block in self.mid:
            h = block(h, emb)
        for blocks in self.up:
            if isinstance(blocks[0], ResBlock):
                h = torch.cat([h, hs.pop()], dim=1)
            for block in blocks:
                h = block(h, emb)
        return self.conv_out(F.silu(self.norm_out(h)))
