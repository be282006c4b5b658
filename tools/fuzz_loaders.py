#!/usr/bin/env python3
"""A longer fuzzing run of every reader a user feeds (tests/test_fuzz.py, which the suite runs with
20 examples per case): NGVK_FUZZ_EXAMPLES examples per case (default 2000, minutes), seeded as in
the suite, so a failure found here is found again by the same command. docs/testing.md has the
last result.

    .venv/bin/python tools/fuzz_loaders.py [EXAMPLES]
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    examples = sys.argv[1] if len(sys.argv) > 1 else "2000"
    if not examples.isdigit() or int(examples) < 1:
        print("fuzz_loaders: EXAMPLES must be a whole number at least 1", file=sys.stderr)
        return 2
    environment = dict(os.environ, NGVK_FUZZ_EXAMPLES=examples)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "test_fuzz.py")], cwd=ROOT, env=environment)
    print(f"fuzz_loaders: {examples} examples per case in {time.perf_counter() - start:.0f} s: "
          f"{'no failure' if done.returncode == 0 else 'FAILED (the case is printed above)'}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
