"""Inference benchmark of the shipped gas-type model; same figures as ``gasguard bench sensor --json``."""

from __future__ import annotations

import json

from gasguard.ml.bench import bench_gas_classifier

if __name__ == "__main__":
    print(json.dumps(bench_gas_classifier()))
