"""Vision serving throughput on one CPU core (same figures as ``gasguard bench vision --json``).

Usage: python benchmarks/bench_vision.py [SECONDS]
"""

from __future__ import annotations

import json
import sys

from gasguard.vision.bench import bench_vision

if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    print(json.dumps(bench_vision(seconds)))
