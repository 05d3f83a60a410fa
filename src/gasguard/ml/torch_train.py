"""Training wrapper that puts the paper's PyTorch networks behind the common classifier interface.

Training extra only: importing this module imports torch. The paper trains for up to 200 epochs with
early stopping; the evaluate command trains for a few epochs (``epochs``, default 8) so a baseline
run stays within minutes on a CPU, and says so in its output.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from gasguard.ml.models import ClassifierBase, FloatArray
from gasguard.ml.torch_models import Sensor1DCNN, SensorDNN, SensorLSTM

logger = logging.getLogger(__name__)

ARCHITECTURES: dict[str, type[nn.Module]] = {"cnn1d": Sensor1DCNN, "dnn": SensorDNN, "lstm": SensorLSTM}


class TorchClassifier(ClassifierBase):
    """One of the paper's networks (``cnn1d``, ``dnn``, ``lstm``) on standardized inputs.

    Hyper-parameters follow the paper: Adam, learning rate 0.001, batch size 32, dropout 0.3.
    """

    def __init__(
        self,
        feature_names: Sequence[str],
        arch: str = "cnn1d",
        epochs: int = 8,
        batch_size: int = 32,
        lr: float = 1e-3,
        seed: int = 0,
        progress: bool = True,
        num_threads: int = 1,
    ) -> None:
        super().__init__(feature_names)
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
        self.arch = arch
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.progress = progress
        self.num_threads = num_threads
        self.net: Any = None
        self._mean = np.zeros(len(self.feature_names))
        self._std = np.ones(len(self.feature_names))

    def _standardize(self, X: FloatArray) -> torch.Tensor:
        return torch.as_tensor((np.asarray(X, dtype=np.float64) - self._mean) / self._std, dtype=torch.float32)

    @contextmanager
    def _threads(self) -> Iterator[None]:
        """Run with ``num_threads`` torch threads, then restore the caller's setting.

        One thread: small nets on a shared CPU train several times faster than with contended threads,
        and a fixed thread count keeps the float sums, and so the results, the same run after run.
        """
        previous = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _fit(self, X: FloatArray, y_idx: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        with self._threads():
            self._train(X, y_idx)

    def _train(self, X: FloatArray, y_idx: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        self._mean = X.mean(axis=0)
        self._std = X.std(axis=0) + 1e-9
        xt = self._standardize(X)
        yt = torch.as_tensor(y_idx, dtype=torch.long)
        self.net = ARCHITECTURES[self.arch](n_sensors=X.shape[1], n_classes=len(self.classes))
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        loss_fn = nn.CrossEntropyLoss()
        n = len(yt)
        self.net.train()
        bar = tqdm(range(self.epochs), desc=f"train {self.arch}", unit="epoch", disable=not self.progress, leave=False)
        for _ in bar:
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                if len(idx) < 2:  # batch norm needs two samples
                    continue
                optimizer.zero_grad()
                loss = loss_fn(self.net(xt[idx]), yt[idx])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            bar.set_postfix(loss=f"{total / n:.4f}")
        self.net.eval()

    def predict_proba_many(self, X: FloatArray) -> FloatArray:
        if self.net is None:
            raise RuntimeError("model is not trained")
        with self._threads(), torch.no_grad():
            logits = self.net(self._standardize(X))
            return np.asarray(torch.softmax(logits, dim=1).numpy(), dtype=np.float64)
