"""`planner observe` keeps the series, and `check --observed` says how the peak moves: against a local
moto server (its own, started here) holding seeded CloudWatch series whose answers are known.

Seeded every 4 hours (6 datapoints a day) on days 1 to 27 counted from 28 days before the last Monday's
midnight, UTC: the same weekdays and values whatever day the suite runs, all inside `observe --days 35`:
- grow-db: the 14:00 datapoint is 200 + 5 × day + a fixed wobble of -6..+6 (the daily peak), the others
  100; Saturdays and Sundays peak 30 lower (a weekly pattern); days 10 and 11 are missing (a gap).
  Expected: about +5 connections/day.
- flat-db: 150 + (hour mod 5): no trend.
- young-db: 9 days of data: too little to say anything about a trend.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

from ..conftest import run_cli  # noqa: E402
from .test_aws import _client, moto_url  # noqa: E402,F401  (fixture: a moto server for this module)

DAYS = 28
WINDOW = 35  # --days: from any day of the week, the window holds every seeded day
HOURS = (2, 6, 10, 14, 18, 22)
GAP = (10, 11)
_TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
MIDNIGHT = _TODAY - timedelta(days=_TODAY.weekday())  # the last Monday


def _day(d: int) -> datetime:
    return MIDNIGHT - timedelta(days=DAYS - d)


def grow_peak(d: int) -> int:
    """The seeded daily peak of grow-db on day ``d`` (0 = 28 days ago)."""
    return 200 + 5 * d + (d * 7919) % 13 - 6 - (30 if _day(d).weekday() >= 5 else 0)


def _points(ident: str) -> list[tuple[datetime, float]]:
    points = []
    for d in range(1, DAYS):
        for h in HOURS:
            moment = _day(d) + timedelta(hours=h)
            if ident == "grow-db" and d not in GAP:
                points.append((moment, float(grow_peak(d) if h == 14 else 100)))
            elif ident == "flat-db":
                points.append((moment, float(150 + h % 5)))
            elif ident == "young-db" and d >= DAYS - 9:
                points.append((moment, 80.0))
    return points


@pytest.fixture(scope="module")
def seeded(moto_url: str) -> str:  # noqa: F811
    rds, cloudwatch = _client(moto_url, "rds"), _client(moto_url, "cloudwatch")
    for ident in ("grow-db", "flat-db", "young-db"):
        rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.m6g.large", Engine="postgres", EngineVersion="16.3",
                               MasterUsername="app", MasterUserPassword="not-a-real-password", AllocatedStorage=20)  # fmt: skip
        data = [{"MetricName": "DatabaseConnections", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": ident}],
                 "Timestamp": moment, "Value": value, "Unit": "Count"} for moment, value in _points(ident)]  # fmt: skip
        for start in range(0, len(data), 500):
            cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=data[start:start + 500])
    return moto_url


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeded: str) -> Iterator[str]:
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret-key", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty),
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": seeded}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    yield seeded


def _topology(path: Path, ident: str) -> Path:
    path.write_text(f"version: 1\ndatabases:\n  {ident}: {{instance_class: db.m6g.large, engine_version: \"16\"}}\n"
                    "services:\n  web: {replicas: 4, processes: 2, pool: {driver: sqlalchemy, size: 10, max_overflow: 0}}\n")  # fmt: skip
    return path


def _observe(tmp_path: Path, *idents: str) -> dict[str, Any]:
    out = tmp_path / "observed.json"
    code, stdout, stderr = run_cli(["observe", *idents, "--days", str(WINDOW), "-o", str(out)])
    assert code == 0, stderr
    return json.loads(out.read_text())


def _trend(tmp_path: Path, ident: str, observed: Path) -> tuple[dict[str, Any], str]:
    topology = _topology(tmp_path / f"{ident}.yaml", ident)
    code, out, err = run_cli(["check", str(topology), "--observed", str(observed), "--format", "json"])
    assert code in (0, 1), err
    (writer,) = json.loads(out)["instances"]
    code, text, err = run_cli(["check", str(topology), "--observed", str(observed)])
    assert code in (0, 1), err
    return writer, text


def test_observe_keeps_the_series_at_the_finest_period_cloudwatch_keeps(aws: str, tmp_path: Path) -> None:
    doc = _observe(tmp_path, "grow-db")
    assert doc["version"] == 2
    (entry,) = doc["observations"]
    series = entry["series"]
    assert series["period_seconds"] == 300  # 35 days: 1-minute data is kept 15 days only
    values = series["values"]
    assert sum(v is not None for v in values) == entry["datapoints"] == (DAYS - 1 - len(GAP)) * len(HOURS)
    assert entry["peak"] == max(grow_peak(d) for d in range(1, DAYS) if d not in GAP)
    # the grid: the first value is the first datapoint, every later one 5 minutes on
    first = datetime.fromisoformat(series["start"].replace("Z", "+00:00"))
    assert first == _day(1) + timedelta(hours=HOURS[0])
    assert values[(14 - HOURS[0]) * 12] == grow_peak(1)


def test_a_seeded_slope_is_recovered_within_its_band_and_the_alarm_day_follows(aws: str, tmp_path: Path) -> None:
    observed = tmp_path / "observed.json"
    _observe(tmp_path, "grow-db")
    writer, text = _trend(tmp_path, "grow-db", observed)
    trend = writer["observed_trend"]
    slope = trend["slope_per_day"]
    assert slope["significant"] and slope["low"] <= 5 <= slope["high"]
    assert abs(slope["estimate"] - 5) <= 0.5
    assert trend["days"] == DAYS - 1 - len(GAP)  # every seeded day gives a peak; the missing ones do not
    level = trend["level"]
    assert abs(level - (200 + 5 * (DAYS - 1))) <= 10  # the line at the last day, weekends pulling it little
    (alarm, usable) = trend["reaches"]
    assert (alarm["line"], alarm["value"], usable["value"]) == ("alarm line", writer["alarm_at"], writer["usable"])
    expected = (writer["alarm_at"] - level) / slope["estimate"]
    assert alarm["days"] == pytest.approx(expected) and alarm["earliest"] <= alarm["days"]
    assert alarm["latest"] is None or alarm["latest"] >= alarm["days"]
    assert "peak grows" in trend["summary"] and "%/week" in trend["summary"] and "estimate" in trend["summary"]
    assert f"alarm line ({writer['alarm_at']:,}) in ~{round(expected):,} days" in text
    assert "2 day(s) without data" in text and trend["missing_days"] == 2  # the gap is said
    # the README shows this output
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("  ```text\n  observed trend:\n", 1)[1].split("  ```", 1)[0]
    printed = text.split("\nobserved trend:\n", 1)[1].split("\n\n", 1)[0]
    assert [line.strip() for line in shown.splitlines()] == [line.strip() for line in printed.splitlines()]


def test_a_flat_series_has_no_significant_trend_and_a_young_one_too_little_data(aws: str, tmp_path: Path) -> None:
    observed = tmp_path / "observed.json"
    _observe(tmp_path, "flat-db", "young-db")
    flat, text = _trend(tmp_path, "flat-db", observed)
    assert flat["observed_trend"]["slope_per_day"]["significant"] is False
    assert "no significant trend" in text and "in ~" not in text
    young, text = _trend(tmp_path, "young-db", observed)
    assert young["observed_trend"]["slope_per_day"] is None and young["observed_trend"]["reaches"] == []
    assert "too little data to say how the peak moves: 9 day(s) of data, 14 needed; no forecast" in text


def test_a_version_1_file_still_reads_and_a_broken_series_is_exit_2(tmp_path: Path) -> None:
    topology = _topology(tmp_path / "main.yaml", "main")
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps({"version": 1, "metric": "AWS/RDS DatabaseConnections", "statistic": "Maximum", "period_seconds": 300,
                              "observations": [{"instance": "main", "database": "main", "role": "writer", "peak": 20,
                                                "peak_at": "2026-11-02T14:05:00Z", "days": 14}]}))  # fmt: skip
    code, out, err = run_cli(["check", str(topology), "--observed", str(v1), "--format", "json"])
    assert code == 0, err
    (writer,) = json.loads(out)["instances"]
    assert (writer["observed_peak"], writer["observed_trend"]) == (20, None)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": 2, "observations": [{"instance": "main", "peak": 20, "series": {
        "period_seconds": 300, "start": "2026-11-02T14:05:00Z", "values": [1, "many", 3]}}]}))  # fmt: skip
    code, out, err = run_cli(["check", str(topology), "--observed", str(broken)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "observations[0].series.values[1]" in err and "'many' is not a number of connections" in err
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"version": 9, "observations": []}))
    code, _, err = run_cli(["check", str(topology), "--observed", str(future)])
    assert code == 2 and "version 9" in err and err.count("\n") == 1


PROXY_TOPOLOGY = """version: 1
databases:
  main: {instance_class: db.m6g.large, engine_version: "16"}
services:
  api: {lambda: {concurrency: 100}, pool: {driver: node-pg, size: 1}}
poolers:
  shop-proxy: {kind: rds-proxy, database: main, clients: [api], max_connections_percent: 10}
"""


def test_an_rds_proxy_is_the_sum_of_its_nodes_per_minute_against_its_share(aws: str, tmp_path: Path) -> None:
    # two proxy nodes report every minute for two hours ending an hour ago: node totals 30 + 48 = 78 at most
    cloudwatch = _client(aws, "cloudwatch")
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
    data = []
    for minute in range(120):
        moment = end - timedelta(minutes=minute)
        for node, (held, clients) in enumerate(((30, 200), (min(48, minute), 250))):
            data += [{"MetricName": metric, "Dimensions": [{"Name": "ProxyName", "Value": "shop-proxy"}], "Timestamp": moment,
                      "Value": float(value), "Unit": "Count"} for metric, value in (("DatabaseConnections", held), ("ClientConnections", clients))]  # fmt: skip
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=data[start:start + 500])
    out = tmp_path / "observed.json"
    code, _, err = run_cli(["observe", "--proxy", "shop-proxy", "--days", "2", "-o", str(out)])
    assert code == 0, err
    assert "RDS Proxy shop-proxy: database connections up to 78, client connections up to 450" in err
    (proxy,) = json.loads(out.read_text())["proxies"]
    assert proxy["statistic"] == "sum across the proxy's nodes per minute" and proxy["peaks"] == {"DatabaseConnections": 78, "ClientConnections": 450}
    assert proxy["series"]["DatabaseConnections"]["period_seconds"] == 60
    topology = tmp_path / "proxy.yaml"
    topology.write_text(PROXY_TOPOLOGY)
    code, text, err = run_cli(["check", str(topology), "--observed", str(out)])
    assert code in (0, 1), err
    share = int(json.loads(run_cli(["check", str(topology), "--format", "json"])[1])["poolers"][0]["server_connections"])
    assert share == 806 * 10 // 100  # 10 % of db.m6g.large's max_connections (an estimate's low end)
    line = next(line for line in text.splitlines() if "RDS Proxy shop-proxy" in line)
    assert f"database connections up to 78 of its {share:,}, client connections up to 450" in line
    assert 78 >= 0.9 * share and "its pool was full, clients waited" in line  # 78 of 80: full
    code, _, err = run_cli(["observe"])
    assert code == 2 and err.count("\n") == 1 and "--proxy" in err


def test_a_trend_that_nears_the_alarm_line_is_a_warning(aws: str, tmp_path: Path) -> None:
    observed = tmp_path / "observed.json"
    _observe(tmp_path, "grow-db", "flat-db")
    writer, text = _trend(tmp_path, "grow-db", observed)
    days = writer["observed_trend"]["reaches"][0]["days"]
    assert days <= 90
    code, out, err = run_cli(["check", str(tmp_path / "grow-db.yaml"), "--observed", str(observed), "--format", "json"])
    (warning,) = [w for w in json.loads(out)["warning_details"] if w["code"] == "observed-trend"]
    assert f"reaches the alarm line {writer['alarm_at']:,} in ~{round(days):,} days" in warning["message"]
    code, annotations, _ = run_cli(["check", str(tmp_path / "grow-db.yaml"), "--observed", str(observed), "--format", "github"])
    assert code == 0  # the exit code stays the plan's: the forecast is an estimate
    assert any(line.startswith("::warning") and "observed-trend" in line for line in annotations.splitlines())
    flat, _ = _trend(tmp_path, "flat-db", observed)
    code, out, _ = run_cli(["check", str(tmp_path / "flat-db.yaml"), "--observed", str(observed), "--format", "json"])
    assert not [w for w in json.loads(out)["warning_details"] if w["code"] == "observed-trend"]
