"""Issue 20 item 2: `plan` says when no class can fit because an RDS Proxy takes a fixed share of any
class, and names the setting to change (not another pooler, not a bigger class)."""

from __future__ import annotations

from pathlib import Path

from tests.advice.test_emit import EXISTING_PROXY as TOPOLOGY
from tests.conftest import run_cli

# The proxy takes 100 % of max_connections on any class; web opens 40 beside it in rollout
# (5 replicas with 25 % surge × 2 processes × 4). On the roomiest class, max_connections 5000 (the default
# formula's cap), alarm line 4000: 5000 + 40 > 4000, and at most floor((4000 − 40) × 100 / 5000) = 79 %
# leaves web its room.


def test_plan_names_the_proxy_share_not_a_pooler_to_add(tmp_path: Path) -> None:
    path = tmp_path / "px.yaml"
    path.write_text(TOPOLOGY)
    code, out, err = run_cli(["plan", str(path)])
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if "no postgres class fits" in line]
    assert "while RDS Proxy proxy (100 %) takes that share of max_connections" in line
    assert "they open 40 beside the proxy's 5000 against an alarm line of 4000" in line
    assert "lower max_connections_percent (at most 79 % there" in line
    assert "put a pooler in front" not in out
