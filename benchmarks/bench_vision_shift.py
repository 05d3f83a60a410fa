"""The plume model under domain shift, with and without commissioning, beside MOG2 (same frames).

The figures in ``gasguard/vision/README.md`` and the model card; the same as
``gasguard evaluate vision-shift``. Held-out simulated scene sets (``gasguard.vision.shift_sets``),
evaluation seeds; about 2 minutes with ``--jobs 2`` on a 2-core machine at the defaults.

Usage: python benchmarks/bench_vision_shift.py [--sets a,b] [--scenes 8] [--baseline 96] [--test 48]
       [--jobs 2] [--calibration] [--json]
"""

from __future__ import annotations

import argparse
import json

from gasguard.vision.shift_eval import evaluate_shift, format_table
from gasguard.vision.shift_sets import SetSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=None, help="comma-separated shift sets (default: all)")
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--baseline", type=int, default=96)
    parser.add_argument("--test", type=int, default=48)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--calibration", action="store_true", help="score the calibration scenes instead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sets = [s for s in args.sets.split(",") if s] if args.sets else None
    report = evaluate_shift(
        sets,
        SetSpec(scenes=args.scenes, baseline=args.baseline, test=args.test),
        purpose="calibration" if args.calibration else "evaluation",
        jobs=args.jobs,
    )
    print(json.dumps(report) if args.json else format_table(report))


if __name__ == "__main__":
    main()
