"""make release: check, build and tag a release of planner. Nothing leaves this machine.

In order, stopping at the first step that fails (one line on stderr saying why, exit 1):

1. the work tree is clean (nothing modified, nothing untracked) and on the release branch (main); the
   version in pyproject.toml has no tag yet and is newer than every release tag; pyproject.toml names
   the repository (``[project.urls] Source``: the package page's links are made from it, setup.py);
2. the suite passes (``--tests``, by default ``python -m pytest -q``);
3. the sdist and the wheel are built from the committed tree (``git archive HEAD``: no stray build
   output of the work tree gets in) with this virtualenv's locked build tools, into dist/ (emptied first);
4. ``twine check --strict`` and ``check-wheel-contents`` pass on them (the package index's checks);
5. the tag ``vX.Y.Z`` is written on HEAD and the major tag ``vX`` moved to it: ``uses: ...@vX`` in a
   workflow follows the newest release of that major version; pre-commit configs name ``vX.Y.Z``.

Then it prints the commands that publish the release (git push, twine upload), for a person to run.
``--dry-run`` (``make release DRY_RUN=1``) does steps 1-4 and prints the tags it would write.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the steps run, from the test extra of this virtualenv (make install)
TOOLS = ("build", "check_wheel_contents", "packaging", "pytest", "twine")

try:
    from packaging.version import InvalidVersion, Version
except ModuleNotFoundError:  # main() says what to install
    pass


class Refused(Exception):
    """A release precondition or step failed; the message is the one line to print."""


@dataclass(frozen=True)
class Release:
    """What the release writes: the version, its tag, the moving major tag, the repository's URL."""

    version: Version
    url: str

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def major_tag(self) -> str:
        return f"v{self.version.major}"


def _run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


def _git(*args: str) -> str:
    result = _run(["git", *args])
    if result.returncode != 0:
        raise Refused(f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def check_preconditions(branch: str) -> Release:
    """Return the release the checked-out tree makes; raise :class:`Refused` when it must not be made."""
    _git("rev-parse", "--is-inside-work-tree")
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=normal"]).stdout.splitlines()
    if dirty:
        raise Refused(f"the work tree is not clean: commit or remove {', '.join(line[3:] for line in dirty)}")
    current = _run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"]).stdout.strip()
    if current != branch:
        raise Refused(f"on {current or 'a detached HEAD'}, not {branch}: releases are tagged on {branch}")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    try:
        version = Version(project["version"])
    except InvalidVersion as e:
        raise Refused(f"pyproject.toml: project.version: {e}") from e
    url = project.get("urls", {}).get("Source", "")
    if not url:
        raise Refused("pyproject.toml: [project.urls] has no Source: add the repository's public URL "
                      '(Source = "https://github.com/ORG/planner"), which the package page\'s links need, and commit it')
    release = Release(version, url)
    released = []
    for name in _git("tag", "--list", "v*").splitlines():
        try:
            released.append(Version(name.removeprefix("v")))
        except InvalidVersion:
            continue
    released = [v for v in released if len(v.release) == 3]  # vX.Y.Z; the major tags vX move
    if version in released:
        raise Refused(f"{release.tag} exists: raise project.version in pyproject.toml and commit")
    newer = [v for v in released if v > version]
    if newer:
        raise Refused(f"{release.tag} is older than the release v{max(newer)}: raise project.version in pyproject.toml")
    return release


def run_suite(command: str) -> None:
    """Run the test suite; raise :class:`Refused` when it fails."""
    if subprocess.run(shlex.split(command), cwd=ROOT).returncode != 0:
        raise Refused(f"the suite failed ({command})")


def build(dist: Path) -> list[Path]:
    """Build the sdist and the wheel of HEAD into ``dist`` (emptied first); return their paths."""
    shutil.rmtree(dist, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="planner-release-") as work:
        archive = Path(work) / "head.tar"
        _git("archive", "--format=tar", f"--output={archive}", "HEAD")
        source = Path(work) / "source"
        with tarfile.open(archive) as tar:
            tar.extractall(source, filter="data")
        built = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)])
        if built.returncode != 0:
            raise Refused(f"python -m build failed: {(built.stderr.strip() or built.stdout.strip()).splitlines()[-1]}")
    files = sorted(dist.glob("*.tar.gz")) + sorted(dist.glob("*.whl"))
    if len(files) != 2:
        raise Refused(f"python -m build made {[f.name for f in files]}, not one sdist and one wheel")
    return files


def check_dists(files: list[Path]) -> None:
    """Run the package index's checks on the built files; raise :class:`Refused` on a finding."""
    checks = {"twine check --strict": ["twine", "check", "--strict", *map(str, files)],
              "check-wheel-contents": ["check_wheel_contents", *(str(f) for f in files if f.suffix == ".whl")]}
    for name, check in checks.items():
        result = _run([sys.executable, "-m", *check])
        if result.returncode != 0:
            raise Refused(f"{name}: {' '.join((result.stdout + result.stderr).split())}")


def tag(release: Release, dry_run: bool) -> None:
    """Write the release tag on HEAD and move the major tag to it (only say so with ``dry_run``)."""
    # The major tag is lightweight: `pre-commit autoupdate` takes `git describe --tags`, which prefers an
    # annotated tag to a lightweight one on the same commit, so it moves configs to vX.Y.Z, not vX (an
    # annotated vX would win or tie, and pre-commit's tie-break, `git tag --points-at`, misses annotated
    # tags named by another annotated tag: tests/packaging/test_release.py runs autoupdate).
    commands = [["git", "tag", "--annotate", release.tag, "--message", f"planner {release.version}"],
                ["git", "tag", "--force", release.major_tag, "HEAD"]]
    for command in commands:
        if dry_run:
            print(f"release: would run: {shlex.join(command)}")
        else:
            _git(*command[1:])


def main(argv: list[str] | None = None) -> int:
    """Run the release steps; print the publishing commands; return the exit code."""
    parser = argparse.ArgumentParser(prog="make release", description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="check, test, build and check the files; write no tag")
    parser.add_argument("--branch", default="main", help="the branch releases are tagged on")
    parser.add_argument("--tests", default=f"{shlex.quote(sys.executable)} -m pytest -q", help="the command that runs the suite")
    args = parser.parse_args(argv)
    missing = [tool for tool in TOOLS if importlib.util.find_spec(tool) is None]
    if missing:
        print(f"release: {sys.executable} lacks {', '.join(missing)}: run make install first", file=sys.stderr)
        return 1
    dist = ROOT / "dist"
    try:
        release = check_preconditions(args.branch)
        print(f"release: {release.tag} from {args.branch} at {_git('rev-parse', '--short', 'HEAD')}, its package page linking "
              f"into {release.url}: running the suite", flush=True)
        run_suite(args.tests)
        files = build(dist)
        check_dists(files)
        print(f"release: built and checked {', '.join(f.name for f in files)}")
        tag(release, args.dry_run)
    except Refused as e:
        print(f"release: {e}", file=sys.stderr)
        return 1
    done = "would tag" if args.dry_run else "tagged"
    print(f"release: {done} {release.tag} and {release.major_tag}. To publish, run:\n"
          f"  git push origin {args.branch} {release.tag}\n"
          f"  git push --force origin {release.major_tag}    # the major tag moves\n"
          f"  python -m twine upload {' '.join(str(f.relative_to(ROOT)) for f in files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
