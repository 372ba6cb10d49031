"""Issue 20 item 8: colour and wrapping for a person at a terminal, nowhere else."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from planner.render.terminal import colour, for_terminal, wrap
from tests.conftest import EXAMPLES

ROOT = Path(__file__).parents[2]


def test_status_words_are_coloured_and_prose_is_not() -> None:
    text = "shop (shop.yaml): OVER\nmain/writer  db.t3.micro  81  steady  17072  -17000  OVER\n  peak  10  ok\nthe pool is ok to use"
    shown = colour(text)
    assert "\033[1;31mOVER\033[0m" in shown and "\033[32mok\033[0m" in shown
    assert shown.endswith("the pool is ok to use")  # "ok" inside a sentence stays plain


def test_long_list_items_wrap_under_their_text() -> None:
    line = "  - services.web.pool: " + "word " * 40
    wrapped = wrap(line, 60).splitlines()
    assert all(len(w) <= 60 for w in wrapped) and wrapped[1].startswith("    word")


def test_pipes_files_and_no_color_get_the_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "x (x.yaml): OVER\n  - " + "word " * 80
    assert for_terminal(text, io.StringIO()) == text  # not a terminal

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("NO_COLOR", "1")
    assert for_terminal(text, Tty()) == text
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm")
    assert "\033[" in for_terminal(text, Tty())


def _run(args: list[str], tty: bool, env: dict[str, str]) -> bytes:
    command = [sys.executable, "-m", "planner", *args]
    inherited = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}  # the case decides
    full_env = {**inherited, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "TERM": "xterm", **env}
    if not tty:
        return subprocess.run(command, capture_output=True, env=full_env, timeout=60).stdout
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=follower, stderr=subprocess.DEVNULL, env=full_env)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    process.wait(timeout=60)
    os.close(leader)
    return out


def test_a_real_terminal_gets_colour_a_pipe_and_json_do_not() -> None:
    example = str(EXAMPLES / "shared-instance.yaml")
    assert b"\033[1;31mOVER" in _run(["check", example], tty=True, env={})
    assert b"\033[" not in _run(["check", example], tty=True, env={"NO_COLOR": "1"})
    assert b"\033[" not in _run(["check", example], tty=False, env={})
    assert b"\033[" not in _run(["check", example, "--format", "json"], tty=True, env={})
