"""What starting lsw-core costs: for `import lsw_core`, `import lsw_core.training.trainer`,
`from lsw_core import Swapper` and `lsw --help`, each in a fresh process, the modules loaded (lsw_core's
own and in all) and the seconds, as JSON (median and minimum of `--repeats` runs).

    python bench/startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CASES = {
    "import lsw_core": "import lsw_core",
    "import lsw_core.training.trainer": "import lsw_core.training.trainer",
    "from lsw_core import Swapper": "from lsw_core import Swapper",
    "lsw --help": "import sys\nsys.argv = ['lsw', '--help']\nfrom lsw_core.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
}
PROBE = """
import sys, time
t0 = time.perf_counter()
exec(compile({code!r}, "case", "exec"))
seconds = time.perf_counter() - t0
own = [m for m in sys.modules if m == "lsw_core" or m.startswith("lsw_core.")]
sys.stderr.write("\\n" + __import__("json").dumps({{"own": len(own), "all": len(sys.modules), "seconds": seconds}}) + "\\n")
"""


def measure(code: str) -> dict:
    run = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True)
    return json.loads(run.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report = {}
    for name, code in CASES.items():
        runs = [measure(code) for _ in range(args.repeats)]
        report[name] = {
            "lsw_core_modules": runs[0]["own"],
            "modules": runs[0]["all"],
            "seconds_median": round(statistics.median(r["seconds"] for r in runs), 3),
            "seconds_min": round(min(r["seconds"] for r in runs), 3),
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
