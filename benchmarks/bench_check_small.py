"""Benchmark `planner check` on a small topology against the floor `python -c "import typer, yaml"`.

Usage: python benchmarks/bench_check_small.py [--topology examples/shared-instance.yaml] [--runs 15]

Issue 14's target: as a pre-commit hook or in a CI matrix, a small `check` starts within 2x the time
it takes to import the two libraries it cannot do without. It measures, best of --runs, alternating
the commands so that drift of a shared machine hits all of them alike:
  - the floor: `python -c "import typer, yaml"`;
  - a one-command Typer app given a path (what Typer itself costs once it parses a parameter);
  - the whole command, as a user runs it: a fresh `python -m planner check TOPOLOGY` process;
then prints the ratio check / floor, the target, and the biggest imports of the command
(`python -X importtime`, self time summed per top-level package, least of three runs).

Bytecode is cached, as for an installed package: the children run with a private
PYTHONPYCACHEPREFIX (and without PYTHONDONTWRITEBYTECODE), warmed up once. --cold-bytecode measures
instead with whatever the environment says, which may compile every module on every run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0  # issue 14: check within 2x the floor

# A Typer app with one command and one path argument: Typer's own cost of parsing a parameter.
TYPER_APP = """
from pathlib import Path
import typer, yaml
app = typer.Typer()
@app.command()
def check(topology: Path) -> None:
    print(topology)
@app.command()
def other() -> None:
    pass
app()
"""

# One line of -X importtime's output: "import time: <self us> | <cumulative us> | <indent><module>".
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def best_times(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Return the best wall time (s) of each command, running them in turn ``runs`` times."""
    best = {name: float("inf") for name in commands}
    for _ in range(runs):
        for name, args in commands.items():
            start = time.perf_counter()
            result = subprocess.run(args, capture_output=True, env=env, cwd=ROOT)
            elapsed = time.perf_counter() - start
            if result.returncode not in (0, 1):  # check exits 1 when something is over: still a full run
                sys.exit(f"{name} failed ({result.returncode}): {result.stderr.decode()[:500]}")
            best[name] = min(best[name], elapsed)
    return best


def import_breakdown(args: list[str], env: dict[str, str], runs: int = 3) -> dict[str, float]:
    """Return the self time (ms) of each top-level package's modules, summed, least over ``runs``.

    Summing self times per package counts every module once, whoever imported it. Modules loaded
    with ``importlib.import_module`` are not reported by -X importtime: their time lands in the
    importing module's self time (``planner.cli`` loads its command groups so).
    """
    packages: dict[str, float] = {}
    for _ in range(runs):
        result = subprocess.run([args[0], "-X", "importtime", *args[1:]], capture_output=True, env=env, cwd=ROOT)
        totals: dict[str, float] = defaultdict(float)
        for match in IMPORT_LINE.finditer(result.stderr.decode()):
            totals[match[4].split(".")[0]] += int(match[1]) / 1000
        for package, value in totals.items():
            packages[package] = min(packages.get(package, value), value)
    return packages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", type=Path, default=ROOT / "examples" / "shared-instance.yaml")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--top", type=int, default=12, help="how many packages the import breakdown lists")
    parser.add_argument("--cold-bytecode", action="store_true", help="do not cache bytecode for the children")
    args = parser.parse_args()

    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if not args.cold_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as app:
            app.write(TYPER_APP)
        try:
            commands = {
                "floor": [sys.executable, "-c", "import typer, yaml"],
                "typer app": [sys.executable, app.name, "check", str(args.topology)],
                "check": [sys.executable, "-m", "planner", "check", str(args.topology)],
            }
            best_times(commands, 1, env)  # warm-up: bytecode written, files in the page cache
            best = best_times(commands, args.runs, env)
            packages = import_breakdown(commands["check"], env)
        finally:
            os.unlink(app.name)

    ratio = best["check"] / best["floor"]
    lines = len(args.topology.read_text(encoding="utf-8").splitlines())
    print(f"topology: {args.topology.name} ({lines} lines); bytecode {'as the environment says' if args.cold_bytecode else 'cached'}")
    print(f'python -c "import typer, yaml" (floor, best of {args.runs}): {best["floor"]:.3f} s')
    print(f"one-command Typer app given a path:          {best['typer app']:.3f} s ({best['typer app'] / best['floor']:.2f}x the floor)")
    print(f"planner check (whole command, best of {args.runs}):  {best['check']:.3f} s")
    print(f"ratio check / floor: {ratio:.2f}x   target <= {TARGET:.0f}x: {'met' if ratio <= TARGET else 'NOT met'}")
    print("biggest imports of check (-X importtime, self time summed per package, least of 3 runs):")
    for package, value in sorted(packages.items(), key=lambda item: -item[1])[: args.top]:
        print(f"  {package:<24} {value:7.1f} ms")
    print(f"  {'(all imports)':<24} {sum(packages.values()):7.1f} ms")
    heavy = [m for m in ("pandas", "numpy", "pydantic", "rich", "jinja2", "matplotlib", "boto3", "psycopg") if m in packages]
    print(f"heavy packages imported: {', '.join(f'{m} ({packages[m]:.0f} ms)' for m in heavy) or 'none'}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")


if __name__ == "__main__":
    main()
