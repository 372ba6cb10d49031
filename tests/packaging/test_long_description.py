"""setup.py's long description: README.md with relative links made absolute, code left as written.

The built distributions are checked in test_wheel.py (the page as PyPI renders it); these are the
rewriting rules one case at a time, and the build without a repository URL.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://github.com/example-org/planner"


def _setup_module() -> ModuleType:
    """Import setup.py without running setup() (it runs only as __main__, as setuptools runs it)."""
    spec = importlib.util.spec_from_file_location("planner_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP = _setup_module()


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("see [the spec](docs/topology.md#exit-codes).", f"see [the spec]({BASE}/blob/v1.2.3/docs/topology.md#exit-codes)."),
        ("[`action.yml`](action.yml)", f"[`action.yml`]({BASE}/blob/v1.2.3/action.yml)"),
        ("[a folder](tests/deployments/mattermost)", f"[a folder]({BASE}/blob/v1.2.3/tests/deployments/mattermost)"),
        ("![the report](docs/report.png)", f"![the report]({BASE}/raw/v1.2.3/docs/report.png)"),
        ('[t](docs/diff.md "the title")', f'[t]({BASE}/blob/v1.2.3/docs/diff.md "the title")'),
        ("[t](<docs/diff.md>)", f"[t](<{BASE}/blob/v1.2.3/docs/diff.md>)"),
        ("[t](./docs/diff.md) [u](/data/x.csv)", f"[t]({BASE}/blob/v1.2.3/docs/diff.md) [u]({BASE}/blob/v1.2.3/data/x.csv)"),
        ("[spanning\nlines](docs/diff.md)", f"[spanning\nlines]({BASE}/blob/v1.2.3/docs/diff.md)"),
        ("[ref]: docs/diff.md\n", f"[ref]: {BASE}/blob/v1.2.3/docs/diff.md\n"),
        ('<img src="docs/report.png"> <a href="docs/diff.md">', f'<img src="{BASE}/raw/v1.2.3/docs/report.png"> <a href="{BASE}/blob/v1.2.3/docs/diff.md">'),
        # kept: anchors on the page, absolute and protocol-relative URLs, mail
        ("[up](#as-a-ci-gate)", "[up](#as-a-ci-gate)"),
        ("[x](https://aws.amazon.com/rds/) [y](//example.com/a) [z](mailto:a@example.com)",
         "[x](https://aws.amazon.com/rds/) [y](//example.com/a) [z](mailto:a@example.com)"),
        # kept: code spans and fenced code, where a link is text
        ("`[a](docs/diff.md)` and [b](docs/diff.md)", f"`[a](docs/diff.md)` and [b]({BASE}/blob/v1.2.3/docs/diff.md)"),
        ("``[a](b.md) ` ``", "``[a](b.md) ` ``"),
        ("```md\n[a](docs/diff.md)\n```\n[b](docs/diff.md)", f"```md\n[a](docs/diff.md)\n```\n[b]({BASE}/blob/v1.2.3/docs/diff.md)"),
        ("~~~~\n```\n[a](b.md)\n~~~~\n[c](d.md)", f"~~~~\n```\n[a](b.md)\n~~~~\n[c]({BASE}/blob/v1.2.3/d.md)"),
    ],
)
def test_relative_targets_become_the_file_at_the_tag(markdown: str, expected: str) -> None:
    assert SETUP.absolute_links(markdown, BASE, "v1.2.3") == expected


def test_gitlab_has_its_own_layout() -> None:
    text = SETUP.absolute_links("[a](docs/diff.md) ![b](docs/report.png)", "https://gitlab.com/org/planner/", "v1.0.0")
    assert text == ("[a](https://gitlab.com/org/planner/-/blob/v1.0.0/docs/diff.md) "
                    "![b](https://gitlab.com/org/planner/-/raw/v1.0.0/docs/report.png)")


def test_an_unknown_host_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match=r"no known file layout for 'git\.example\.org'.*LAYOUTS in setup\.py"):
        SETUP.absolute_links("[a](b.md)", "https://git.example.org/org/planner", "v1.0.0")


def _project(tmp_path: Path, urls: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "planner"\nversion = "2.0.1"\n{urls}', encoding="utf-8")
    (tmp_path / "README.md").write_text("# planner\n\nSee [the spec](docs/topology.md) and [below](#install).\n", encoding="utf-8")
    return tmp_path


def test_the_description_links_to_the_versions_tag_of_the_source_url(tmp_path: Path) -> None:
    root = _project(tmp_path, f'[project.urls]\nSource = "{BASE}"\n')
    assert SETUP.long_description(root) == f"# planner\n\nSee [the spec]({BASE}/blob/v2.0.1/docs/topology.md) and [below](#install).\n"


def test_without_a_source_url_the_readme_is_kept_and_the_build_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "")
    assert SETUP.long_description(root) == (root / "README.md").read_text(encoding="utf-8")
    warning = capsys.readouterr().err
    assert "no [project.urls] Source" in warning and "RELEASING.md" in warning and warning.count("\n") == 1
