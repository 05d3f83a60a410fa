"""Safety-core benchmark; same as ``gasguard bench safety --json``."""

import json

from gasguard.safety_bench import run_safety_bench

if __name__ == "__main__":
    print(json.dumps(run_safety_bench()))
