"""GasNet and the paper's four fusion designs (Ahn, Kim, Kim, KIPS Trans. 2024), in PyTorch.

GasNet is VGG-style: six 3x3 convolution layers for features, three fully connected layers to
classify. Its feature vector has the paper's length, 384 (global average and global max of the last
layer's 192 channels, which works for any input size and exports to ONNX). The
channel widths are sized so that one 224x224 frame runs above 200 frames/s on one CPU core in
onnxruntime. The sensor branch is ``gasguard.ml.torch_models.Sensor1DCNN`` (``features`` ->
``feature_dim``), shared with the sensor models.

Every model here takes ``(image [B, 3, H, W] float 0..1, sensors [B, 7] standardized)`` and returns
``[B, n_classes]`` log-scores whose softmax is the class probability; ``loss`` gives the training loss
(Fusion III and IV add their per-branch losses). Training extra only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gasguard.ml.torch_models import Sensor1DCNN

DROPOUT = 0.3
MODEL_KINDS = ("gasnet", "fusion1", "fusion2", "fusion3-max", "fusion3-mean", "fusion4")


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


def _mlp(d_in: int, hidden: tuple[int, ...], d_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.ReLU(inplace=True), nn.Dropout(DROPOUT)]
        d_in = h
    layers.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*layers)


class GasNet(nn.Module):
    """Six 3x3 conv layers (16-32-32-64-64-192) with max-pooling, then FC 384-128-64-n_classes."""

    def __init__(self, n_classes: int = 4, in_channels: int = 3) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            _conv(in_channels, 16, stride=2),
            nn.MaxPool2d(2),  # 224 -> 56
            _conv(16, 32),
            nn.MaxPool2d(2),  # 28
            _conv(32, 32),
            nn.MaxPool2d(2),  # 14
            _conv(32, 64),
            nn.MaxPool2d(2),  # 7
            _conv(64, 64),
            _conv(64, 192),
        )
        self.feature_dim = 192 * 2
        self.classifier = _mlp(self.feature_dim, (128, 64), n_classes)

    @property
    def last_conv(self) -> nn.Module:
        """The layer Grad-CAM explains."""
        return self.convs[-1]

    def features(self, image: torch.Tensor) -> torch.Tensor:
        maps = self.convs(image - 0.5)
        return torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))], 1)

    def forward(self, image: torch.Tensor, sensors: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.features(image))
        return out

    def loss(self, image: torch.Tensor, sensors: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(image), y)


class _TwoBranch(nn.Module):
    def __init__(self, n_classes: int, n_sensors: int) -> None:
        super().__init__()
        self.image_branch = GasNet(n_classes)
        self.sensor_branch = Sensor1DCNN(n_sensors=n_sensors, n_classes=n_classes)
        self.n_classes = n_classes

    @property
    def last_conv(self) -> nn.Module:
        return self.image_branch.last_conv

    def loss(self, image: torch.Tensor, sensors: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(image, sensors), y)


class FusionEarly(_TwoBranch):
    """Fusion I: concatenate the two feature vectors before any classification, then FC layers."""

    def __init__(self, n_classes: int = 4, n_sensors: int = 7) -> None:
        super().__init__(n_classes, n_sensors)
        self.head = _mlp(self.image_branch.feature_dim + self.sensor_branch.feature_dim, (256, 64), n_classes)

    def forward(self, image: torch.Tensor, sensors: torch.Tensor) -> torch.Tensor:
        feats = torch.cat([self.image_branch.features(image), self.sensor_branch.features(sensors)], 1)
        out: torch.Tensor = self.head(feats)
        return out


class FusionIntermediate(_TwoBranch):
    """Fusion II: each branch classifies to an ``n_classes`` vector through its own FC layers; the two
    vectors are concatenated and a final FC layer decides. Trained jointly."""

    def __init__(self, n_classes: int = 4, n_sensors: int = 7) -> None:
        super().__init__(n_classes, n_sensors)
        self.image_head = _mlp(self.image_branch.feature_dim, (128,), n_classes)
        self.sensor_head = _mlp(self.sensor_branch.feature_dim, (64,), n_classes)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(2 * n_classes, 32), nn.ReLU(), nn.Linear(32, n_classes))

    def forward(self, image: torch.Tensor, sensors: torch.Tensor) -> torch.Tensor:
        a = self.image_head(self.image_branch.features(image))
        b = self.sensor_head(self.sensor_branch.features(sensors))
        out: torch.Tensor = self.head(torch.cat([a, b], 1))
        return out


class FusionLate(_TwoBranch):
    """Fusion III: two independently trained classifiers whose probabilities are combined by the
    element-wise maximum (the paper's better variant) or the mean, then renormalised."""

    def __init__(self, n_classes: int = 4, n_sensors: int = 7, combine: str = "max") -> None:
        super().__init__(n_classes, n_sensors)
        if combine not in ("max", "mean"):
            raise ValueError("combine must be 'max' or 'mean'")
        self.combine = combine

    def branch_logits(self, image: torch.Tensor, sensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.image_branch(image), self.sensor_branch(sensors)

    def forward(self, image: torch.Tensor, sensors: torch.Tensor) -> torch.Tensor:
        a, b = self.branch_logits(image, sensors)
        pa, pb = F.softmax(a, 1), F.softmax(b, 1)
        p = torch.maximum(pa, pb) if self.combine == "max" else (pa + pb) / 2
        return torch.log(p / p.sum(1, keepdim=True) + 1e-12)

    def loss(self, image: torch.Tensor, sensors: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # The branches share no parameters, so the summed loss trains each one on its own, as the paper does.
        a, b = self.branch_logits(image, sensors)
        return F.cross_entropy(a, y) + F.cross_entropy(b, y)


class FusionHybrid(_TwoBranch):
    """Fusion IV: early fusion of features into a shared FC layer, which then splits into an image
    head and a sensor head; their probabilities are fused late (mean). All heads are supervised."""

    def __init__(self, n_classes: int = 4, n_sensors: int = 7) -> None:
        super().__init__(n_classes, n_sensors)
        d = self.image_branch.feature_dim + self.sensor_branch.feature_dim
        self.shared = nn.Sequential(nn.Linear(d, 256), nn.ReLU(inplace=True), nn.Dropout(DROPOUT))
        self.image_head = _mlp(256, (64,), n_classes)
        self.sensor_head = _mlp(256, (64,), n_classes)

    def heads(self, image: torch.Tensor, sensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shared = self.shared(torch.cat([self.image_branch.features(image), self.sensor_branch.features(sensors)], 1))
        return self.image_head(shared), self.sensor_head(shared)

    def forward(self, image: torch.Tensor, sensors: torch.Tensor) -> torch.Tensor:
        a, b = self.heads(image, sensors)
        return torch.log((F.softmax(a, 1) + F.softmax(b, 1)) / 2 + 1e-12)

    def loss(self, image: torch.Tensor, sensors: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a, b = self.heads(image, sensors)
        fused = torch.log((F.softmax(a, 1) + F.softmax(b, 1)) / 2 + 1e-12)
        return F.nll_loss(fused, y) + 0.5 * (F.cross_entropy(a, y) + F.cross_entropy(b, y))


def build_model(kind: str, n_classes: int = 4, n_sensors: int = 7) -> nn.Module:
    """One of ``MODEL_KINDS``."""
    if kind == "gasnet":
        return GasNet(n_classes)
    if kind == "fusion1":
        return FusionEarly(n_classes, n_sensors)
    if kind == "fusion2":
        return FusionIntermediate(n_classes, n_sensors)
    if kind in ("fusion3-max", "fusion3-mean"):
        return FusionLate(n_classes, n_sensors, combine=kind.split("-")[1])
    if kind == "fusion4":
        return FusionHybrid(n_classes, n_sensors)
    raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
