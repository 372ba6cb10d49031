"""examples/observed/lambda-proxy.json is what scripts/example_observations.py writes (made-up series,
said so there and in the README), byte for byte: nobody edits it by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_observations_are_the_script_s(tmp_path: Path) -> None:
    out = tmp_path / "lambda-proxy.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "example_observations.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (ROOT / "examples" / "observed" / "lambda-proxy.json").read_bytes()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "made-up series" in readme and "scripts/example_observations.py" in readme
