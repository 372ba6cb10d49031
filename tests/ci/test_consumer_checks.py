"""The consumers' own validators on what planner publishes for them: the Action and the pre-commit hook.

- ``check-jsonschema --builtin-schema vendor.github-actions action.yml``: the Action's metadata against
  the GitHub Action schema SchemaStore publishes (check-jsonschema 0.39.0 vendors it, so no network);
- ``pre-commit validate-manifest .pre-commit-hooks.yaml``: the hook against pre-commit's own schema.

Each also runs on a broken copy, which it must refuse: a validator that passes everything checks nothing.
The wheel and the sdist get the package index's checks in tests/packaging/test_wheel.py (twine check
--strict, check-wheel-contents); the real pre-commit runs the hook in test_pre_commit_hook.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT)


def test_action_yml_is_valid_against_the_github_action_schema(tmp_path: Path) -> None:
    result = _run("check_jsonschema", "--builtin-schema", "vendor.github-actions", "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout
    broken = tmp_path / "action.yml"
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    assert "\nruns:\n" in text
    broken.write_text(text.replace("\nruns:\n", "\nrun:\n"), encoding="utf-8")
    refused = _run("check_jsonschema", "--builtin-schema", "vendor.github-actions", str(broken))
    assert refused.returncode == 1 and "'runs' is a required property" in refused.stdout, refused.stdout + refused.stderr


def test_the_hook_manifest_is_valid_for_pre_commit(tmp_path: Path) -> None:
    result = _run("pre_commit", "validate-manifest", ".pre-commit-hooks.yaml")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    broken = tmp_path / ".pre-commit-hooks.yaml"
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "language: python\n" in text
    broken.write_text(text.replace("language: python\n", "language: pythn\n"), encoding="utf-8")
    refused = _run("pre_commit", "validate-manifest", str(broken))
    assert refused.returncode == 1 and "At key: language" in refused.stdout, refused.stdout + refused.stderr
