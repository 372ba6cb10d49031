"""``--apply-to-topology`` on a topology that reads the deployment: what it may write, and where."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ...conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "kubernetes" / "e2e"

# the e2e shop on a class sized before launch: over budget, so recommend has options
TOPOLOGY = (FIXTURES / "shop.yaml").read_text().replace(
    'main: {instance_class: db.m6g.large, engine_version: "16.4", parameters: {max_connections: 600}}',
    'main: {instance_class: db.t4g.micro, engine_version: "16.4"}  # sized before launch')


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An over-budget topology beside its rendered manifests, run from its folder."""
    shutil.copytree(FIXTURES / "rendered", tmp_path / "rendered")
    (tmp_path / "shop.yaml").write_text(TOPOLOGY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def options() -> dict[str, str]:
    """Return recommend's options by kind: {"resize": "main:2", ...}."""
    code, out, err = run_cli(["recommend", "shop.yaml", "--format", "json"])
    assert code == 0, err
    import json

    return {option["kind"]: f"{rec['database']}:{rank}" for rec in json.loads(out)["recommendations"]
            for rank, option in enumerate(rec["options"], 1)}


def test_an_option_on_values_the_topology_writes_is_applied_and_the_sources_still_read(shop: Path) -> None:
    code, _, err = run_cli(["recommend", "shop.yaml", "--option", options()["resize"], "--apply-to-topology", "fixed.yaml"])
    assert code == 0, err
    written = (shop / "fixed.yaml").read_text()
    # one key changed; from: and {env} kept. The class: the smallest that fits and is not burstable, as the
    # topology names no environment (production by default: plan and recommend leave burstable classes out)
    assert written == TOPOLOGY.replace("db.t4g.micro", "db.m6g.large")
    code, out, _ = run_cli(["check", "fixed.yaml"])
    assert (code, out.splitlines()[0]) == (0, "fixed (fixed.yaml): OK")


def test_an_option_that_changes_sourced_values_is_refused_naming_where_they_come_from(shop: Path) -> None:
    code, out, err = run_cli(["recommend", "shop.yaml", "--option", options()["shrink-pools"], "--apply-to-topology", "fixed.yaml"])
    assert code == 2
    assert err.splitlines() == [
        "planner: shop.yaml:10: services.web.pool.size: 5 → 1: the value comes from DB_POOL_SIZE = '5' ← "
        "ConfigMap/shop-web-env data.DB_POOL_SIZE, rendered/web.yaml:28, and planner does not edit deployment files "
        "(change it there and run planner check again, or choose an option that changes what the topology itself writes)",
        "planner: shop.yaml:10: services.web.pool.max_overflow: 10 → 0: the value comes from default of "
        "{env: DB_MAX_OVERFLOW} (not set in Deployment/shop-web), and planner does not edit deployment files "
        "(change it there and run planner check again, or choose an option that changes what the topology itself writes)"]
    assert not (shop / "fixed.yaml").exists()


def test_a_topology_with_sources_is_written_beside_the_original(shop: Path) -> None:
    (shop / "out").mkdir()
    code, _, err = run_cli(["recommend", "shop.yaml", "--option", options()["resize"], "--apply-to-topology", "out/fixed.yaml"])
    assert code == 2
    assert err.splitlines() == ["planner: --apply-to-topology out/fixed.yaml: shop.yaml reads its sources relative to its "
                                "own folder, so the new file goes beside it (e.g. fixed.yaml)"]
    assert list((shop / "out").iterdir()) == []


def test_sources_replaced_on_the_command_line_are_read_the_same_way_to_check_the_edit(shop: Path) -> None:
    shutil.copytree(shop / "rendered", shop / "head")
    web = shop / "head" / "web.yaml"
    web.write_text(web.read_text().replace("  maxReplicas: 10\n", "  maxReplicas: 30\n"))
    code, _, err = run_cli(["recommend", "shop.yaml", "--source", "kubernetes=head/", "--option", "main:1",
                            "--apply-to-topology", "fixed.yaml"])
    assert code == 0, err
    assert "planner check: ok" in err
    # the head's HPA maximum (30, not 10) needs a larger class than the base's db.t4g.large
    assert (shop / "fixed.yaml").read_text() == TOPOLOGY.replace("db.t4g.micro", "db.r6g.large")
    code, _, _ = run_cli(["check", "fixed.yaml", "--source", "kubernetes=head/"])
    assert code == 0
