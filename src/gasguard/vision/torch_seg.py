"""PlumeNet: a small encoder-decoder that segments gas plumes from greyscale frames plus temporal
context (see ``temporal.py``). Sized to run above 30 frames/s at 320x240 on one CPU core in
onnxruntime: ~0.1 GFLOP per 160x120 frame. Training extra only (PyTorch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class PlumeNet(nn.Module):
    """U-Net-like: four stride-2 stages down to 1/16, skip connections back up, logits at full size.

    The deepest stage sees ~100 px of context, enough to tell a drifting plume from a pipe edge.
    """

    def __init__(self, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        self.in_channels = in_channels
        c1, c2, c3, c4 = width, width * 2, width * 3, width * 4
        self.enc1 = nn.Sequential(_block(in_channels, c1, 2), _block(c1, c1))  # 1/2
        self.enc2 = nn.Sequential(_block(c1, c2, 2), _block(c2, c2))  # 1/4
        self.enc3 = nn.Sequential(_block(c2, c3, 2), _block(c3, c3))  # 1/8
        self.enc4 = nn.Sequential(_block(c3, c4, 2), _block(c4, c4))  # 1/16
        self.dec3 = _block(c4 + c3, c3)
        self.dec2 = _block(c3 + c2, c2)
        self.dec1 = _block(c2 + c1, c1)
        self.head = nn.Conv2d(c1 + in_channels, 1, 3, padding=1)

    @staticmethod
    def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, H, W]`` -> ``[B, 1, H, W]`` plume logits."""
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d3 = self.dec3(torch.cat([self._up(e4, e3), e3], 1))
        d2 = self.dec2(torch.cat([self._up(d3, e2), e2], 1))
        d1 = self.dec1(torch.cat([self._up(d2, e1), e1], 1))
        out: torch.Tensor = self.head(torch.cat([self._up(d1, x), x], 1))
        return out
