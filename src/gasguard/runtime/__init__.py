"""The live runtime of the zones one process owns, one job per module:

- ``core``: ``Runtime``, the pipeline wired to its drivers, sources and cameras, run and stopped;
- ``feed``: what leaves it after each step (storage, observers, the plant's state events);
- ``supervision``: sources and cameras restarted after failures, storage watched for an outage;
- ``health``: its components of ``/api/v1/health``;
- ``build``: ``build_runtime`` and ``initial_state``, the single-process composition root;
- ``parts``: the small types it is assembled from.

What the dashboard shows is built by ``gasguard.readmodel`` from the state events, never here.
"""

from gasguard.runtime.build import build_runtime, initial_state
from gasguard.runtime.core import Runtime
from gasguard.runtime.feed import READING_PUSH_INTERVAL_S
from gasguard.runtime.parts import Camera, GasIdentification, ModelInfo, SourceStatus, UnknownChannelError

__all__ = [
    "READING_PUSH_INTERVAL_S",
    "Camera",
    "GasIdentification",
    "ModelInfo",
    "Runtime",
    "SourceStatus",
    "UnknownChannelError",
    "build_runtime",
    "initial_state",
]
