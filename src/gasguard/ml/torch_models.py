"""The sensor networks of the multimodal gas paper (Ahn, Kim, Kim, KIPS Trans. 2024), in PyTorch.

These are the published baselines GasGuard is measured against, and the sensor branch that the
fusion models of the vision package reuse (``Sensor1DCNN.features``). They need the ``train`` extra;
nothing on the serving path imports this module.

All three take one standardized reading of ``n_sensors`` values, shape ``[B, n_sensors]``, and return
class logits ``[B, n_classes]``. The paper's shared hyper-parameters: batch normalisation, dropout 0.3,
ReLU, Adam with learning rate 0.001, batch size 32.
"""

from __future__ import annotations

import torch
from torch import nn

DROPOUT = 0.3


class Sensor1DCNN(nn.Module):
    """The paper's 1D CNN: convolutions across the sensor axis, then a three-layer classifier.

    The sensors are treated as a short 1-D signal (one channel, ``n_sensors`` long) so neighbouring
    convolution taps see related MQ sensors together; the paper credits this for beating the DNN.
    ``features`` returns the flattened convolution output (the vector the paper's Fusion I joins with
    the image features); ``forward`` adds the classifier.
    """

    def __init__(self, n_sensors: int = 7, n_classes: int = 4) -> None:
        super().__init__()
        self.n_sensors = n_sensors
        self.n_classes = n_classes
        channels = (32, 64, 64)
        layers: list[nn.Module] = []
        in_ch = 1
        for out_ch in channels:
            layers += [nn.Conv1d(in_ch, out_ch, kernel_size=3, padding=1), nn.BatchNorm1d(out_ch), nn.ReLU()]
            in_ch = out_ch
        self.conv = nn.Sequential(*layers)
        self.feature_dim: int = channels[-1] * n_sensors
        self.classifier = nn.Sequential(
            nn.Dropout(DROPOUT),
            nn.Linear(self.feature_dim, 128),
            nn.ReLU(),
            nn.Dropout(DROPOUT),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, n_classes),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, n_sensors]`` standardized readings -> ``[B, feature_dim]`` feature vectors."""
        return torch.flatten(self.conv(x.unsqueeze(1)), start_dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, n_sensors]`` -> ``[B, n_classes]`` logits (softmax is left to the loss or caller)."""
        logits: torch.Tensor = self.classifier(self.features(x))
        return logits


class SensorDNN(nn.Module):
    """The paper's DNN: four fully connected layers on the raw sensor vector."""

    def __init__(self, n_sensors: int = 7, n_classes: int = 4, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_sensors, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(DROPOUT),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(DROPOUT),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(x)
        return logits


class SensorLSTM(nn.Module):
    """The paper's LSTM: 64-unit recurrent layers reading the sensors as a sequence, then a dense head.

    Like the paper, one reading is the sequence (seven steps of one value), not a window of readings.
    """

    def __init__(self, n_sensors: int = 7, n_classes: int = 4, hidden: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, num_layers=layers, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(DROPOUT), nn.Linear(hidden, 32), nn.ReLU(), nn.Linear(32, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.unsqueeze(-1))
        logits: torch.Tensor = self.head(out[:, -1, :])
        return logits
