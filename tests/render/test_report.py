"""`planner report`: the HTML page, its escaping, its context objects, and a real headless Chromium."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.model import Database, Environment, Pool, Pooler, Service, Topology
from planner.render import html_context
from planner.render.html import build_context, environment, render_context, render_report
from planner.topology import load_topology

from ..conftest import EXAMPLES, run_cli
from ..review.test_diff import isolated_git, repo  # noqa: F401  (fixtures: a throwaway repository)

CATALOG = load_catalog()
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
URL = re.compile(r"(?:https?|ftp)://|//[a-z0-9-]+\.[a-z]", re.I)
CHROMIUM = Path("/usr/bin/chromium")
XSS = "x<img src=x onerror=alert(1)>"


def _source_names(path: Path) -> set[str]:
    report = compute_budget(load_topology(path), CATALOG)
    names = {s.source for i in report.instances for s in i.demand_by_source}
    return names | {s.source for p in report.poolers for s in p.clients}


def _write_report(path: Path, out: Path, *extra: str) -> str:
    code, stdout, stderr = run_cli(["report", str(path), "-o", str(out), *extra])
    assert code == 0, stderr
    assert stdout == ""
    assert stderr.strip() == f"report written: {out}"
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_report_for_every_example(path: Path, tmp_path: Path) -> None:
    html = _write_report(path, tmp_path / "r.html")
    report = compute_budget(load_topology(path), CATALOG)
    for name in _source_names(path):
        assert name in html, name
    for instance in report.instances:
        assert f"{instance.database}/{instance.role}" in html
        assert f">{instance.usable:,}" in html and f">{instance.alarm_at:,}" in html
        assert f"usable {instance.usable:,}" in html  # in the charts' labels and the verdicts
    assert not URL.search(html), URL.search(html)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower() and "@import" not in html and "url(http" not in html
    assert html.count("<svg") >= 4 and html.count('role="img"') == html.count("<svg")
    assert html.startswith("<!doctype html>") and '<meta name="viewport"' in html and "@media print" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_verdicts_and_breaking_sentences() -> None:
    html = render_report(compute_budget(load_topology(EXAMPLES / "beanstalk-flask.yaml"), CATALOG), CATALOG)
    assert "rollout demand 62 vs usable 55: 7 over" in html
    assert "api: main/writer runs out at replicas (max) 6, at or below today&#39;s 6" in html
    html = render_report(compute_budget(load_topology(EXAMPLES / "pgbouncer-fleet.yaml"), CATALOG), CATALOG)
    assert (
        "web: behind pooler bouncer: the database never runs out; the pooler&#39;s client side refuses at replicas (max) 38"
        in html
    )
    html = render_report(compute_budget(load_topology(EXAMPLES / "lambda-proxy.yaml"), CATALOG), CATALOG)
    assert "api: behind RDS Proxy proxy: the database never runs out" in html
    assert "reports: cluster/reader-1 runs out at replicas (max) 172 (today 2, 170 more)" in html


def test_estimates_carry_a_badge(tmp_path: Path) -> None:
    # db.r6g.large is now read off AWS's table (1722); db.r7g.large is estimated by the Aurora Graviton rule
    topology = tmp_path / "lambda-proxy.yaml"
    topology.write_text((EXAMPLES / "lambda-proxy.yaml").read_text().replace("db.r6g.large", "db.r7g.large"))
    html = render_report(compute_budget(load_topology(topology), CATALOG), CATALOG)
    assert html.count('class="badge est"') >= 2
    assert "max_connections (estimate)" in html  # in the waterfall
    # with its range, and the low end it counts on since the estimate may be optimistic
    assert ("max_connections 1,709 (estimate; a real instance may read 1709–1737; the catalogue&#39;s estimate is 1722, "
            "the budget counts on 1709, the low end)") in html
    html = render_report(compute_budget(load_topology(EXAMPLES / "beanstalk-flask.yaml"), CATALOG), CATALOG)
    verdicts = html.split('id="verdict"', 1)[1].split("</section>", 1)[0]
    assert "badge est" not in verdicts  # db.t2.small's number is observed


def test_over_budget_still_exits_0_and_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["report", str(EXAMPLES / "shared-instance.yaml")])
    assert code == 0 and out == ""
    assert err.strip() == f"report written: {Path('reports') / 'shared-instance.html'}"
    assert (tmp_path / "reports" / "shared-instance.html").read_text().startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["report", "missing.yaml"], "missing.yaml: file not found"),
        (["report", "{ex}/beanstalk-flask.yaml", "--baseline", "nope.yaml"], "nope.yaml: file not found"),
        (["report", "{ex}/beanstalk-flask.yaml", "--titel", "x"], "No such option: --titel"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(args: list[str], fragment: str, tmp_path: Path) -> None:
    out = tmp_path / "never.html"
    code, stdout, stderr = run_cli([a.replace("{ex}", str(EXAMPLES)) for a in args] + ["-o", str(out)])
    assert code == 2 and stdout == ""
    assert fragment in stderr and "Traceback" not in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_report_help_has_examples() -> None:
    code, out, _ = run_cli(["report", "--help"])
    assert code == 0 and "Example" in out and "planner report shop.yaml --baseline" in out


def test_topology_name_and_title_are_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    topology = tmp_path / "evil.yaml"
    text = (EXAMPLES / "pgbouncer-fleet.yaml").read_text().replace("name: pgbouncer-fleet", f"name: '{XSS}'")
    topology.write_text(text)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["report", str(topology), "--title", "<script>alert(1)</script>", "--baseline", str(EXAMPLES / "pgbouncer-fleet.yaml")])
    assert code == 0, err
    (written,) = (tmp_path / "reports").iterdir()  # the `name:` key never makes a path
    assert written.name == "x-img-src-x-onerror-alert-1.html"
    html = written.read_text()
    assert "<img" not in html and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the title, as text
    assert "x&lt;img src=x onerror=alert(1)&gt;" in html  # the topology name, as text


def _evil_topology() -> Topology:
    """A topology built from models, bypassing the loader's name rules, with markup in every name."""
    direct = Service(XSS, shape="long-running", replicas_min=2, replicas_max=10, processes=2, pool=Pool("sqlalchemy", 5, 10))
    pooled = Service("y<script>alert(1)</script>", shape="long-running", replicas_max=40, pool=Pool("node-pg", 10, 0))
    dollars = Service("a$b$c", shape="fixed", connections=7)
    return Topology(
        name=f"t{XSS}", path="evil.yaml",
        databases={"main": Database("main", engine="postgres", instance_class="db.m6g.large")},
        environments={"e&amp;<i>": Environment("e&amp;<i>", scale=Fraction(1))},
        services={s.name: s for s in (direct, pooled, dollars)},
        poolers={"p<svg onload=alert(1)>": Pooler("p<svg onload=alert(1)>", "pgbouncer", "main", (pooled.name,), max_client_conn=50)},
    )


def test_markup_in_source_names_stays_text_everywhere() -> None:
    topology = _evil_topology()
    report = compute_budget(topology, CATALOG)
    html = render_report(report, CATALOG, baseline=report, title=XSS)
    for raw in ("<img", "<script", "<svg onload", "<i>", "onerror=alert(1)>"):
        assert raw not in html, raw
    escaped = "x&lt;img src=x onerror=alert(1)&gt;@e&amp;amp;&lt;i&gt;"
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert any("x&lt;img src=x onerror=alert(1)&gt;@e&amp;" in svg for svg in svgs)  # matplotlib escaped the legend
    assert re.search(r'aria-label="[^"]*' + re.escape(escaped), html)  # and Jinja the aria-label
    assert any("a$b$c" in svg for svg in svgs)  # dollars are not mathtext
    assert "p&lt;svg onload=alert(1)&gt;" in html


def test_every_context_field_is_documented() -> None:
    classes = [c for c in vars(html_context).values() if dataclasses.is_dataclass(c) and c.__module__ == html_context.__name__]
    assert len(classes) >= 8
    for cls in classes:
        assert cls.__doc__
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


def test_environment_escapes_and_fails_on_undefined() -> None:
    import jinja2

    env = environment()
    assert env.autoescape is True and env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ report.no_such_field }}").render(report=object())
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_context_holds_the_numbers() -> None:
    report = compute_budget(load_topology(EXAMPLES / "lambda-proxy.yaml"), CATALOG)
    context = build_context(report, CATALOG)
    assert [v.subject for v in context.verdicts] == ["cluster/writer", "cluster/reader-1"]
    (classes,) = context.classes
    assert classes.current is not None and classes.current.name == "db.r6g.large" and classes.current.fit == "fits"
    assert sum(classes.counts.values()) == len(classes.fits) > 50
    assert classes.shortlist[0].fit == "fits"
    assert render_context(context) == render_context(build_context(report, CATALOG))  # reproducible


def test_readers_with_the_same_budget_are_folded() -> None:
    topology = load_topology(EXAMPLES / "lambda-proxy.yaml")
    db = topology.databases["cluster"]
    topology = dataclasses.replace(topology, databases={"cluster": dataclasses.replace(db, readers=3)})
    context = build_context(compute_budget(topology, CATALOG), CATALOG)
    views = {v.name: v for v in context.instances}
    assert views["cluster/reader-1"].same_as == ("reader-2", "reader-3")
    assert views["cluster/reader-2"].folded_into == "cluster/reader-1" and views["cluster/reader-2"].demand_chart is None
    html = render_context(context)
    assert "same for reader-2, reader-3" in html and html.count("<svg") == 3 + 3 + 1  # writer, reader-1: demand, waterfall, breaking; the classes


def test_baseline_shows_every_change(tmp_path: Path) -> None:
    after = tmp_path / "after.yaml"
    text = (EXAMPLES / "pgbouncer-fleet.yaml").read_text()
    text = text.replace("replicas: {min: 6, max: 30}", "replicas: {min: 6, max: 40}")
    text = text.replace("  migrations:\n    connections: 2\n", "  cron:\n    connections: 4\n")
    after.write_text(text)
    html = _write_report(after, tmp_path / "r.html", "--baseline", str(EXAMPLES / "pgbouncer-fleet.yaml"))
    change = " ".join(html.split('id="change"', 1)[1].split())
    # web's rollout (40 + 10) × 4 × 15 = 3000, was (30 + 8) × 60 = 2280
    assert "web@default" in change and "+720" in change and "2,280 → 3,000" in change
    assert "cron@default" in change and ">new<" in change
    assert "migrations@default" in change and ">removed<" in change
    assert "1 new, 1 removed, 1 changed" in change
    assert "3,000 → 3,160" not in change  # client demand lives in the poolers table
    assert "2,440" in change and "3,160" in change  # the pooler's rollout client demand before and after
    assert change.count("<svg") == 1


# --------------------------------------------------------------------------- a real browser


def require_chromium() -> Path:
    """Return Chromium, or skip (outside CI) / fail (in CI, where make test installs it)."""
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        reason = f"{CHROMIUM} not found (make test installs Debian's chromium package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


def _chromium(binary: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
    ]
    return subprocess.run([str(binary), *flags, *args], capture_output=True, text=True, timeout=120)


def test_chromium_renders_the_report(tmp_path: Path) -> None:
    binary = require_chromium()
    path = EXAMPLES / "pgbouncer-fleet.yaml"
    page = tmp_path / "report.html"
    html = _write_report(path, page)
    assert not URL.search(html)  # so the browser has nothing to fetch

    dom = _chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<svg" in dom.stdout and 'role="img"' in dom.stdout
    for name in _source_names(path):
        assert name in dom.stdout
    for number in ("814", "658", "3,000", "135"):
        assert f">{number}" in dom.stdout
    assert "rollout demand 137 vs alarm_at 658: 521 to spare" in dom.stdout

    png = tmp_path / "report.png"
    shot = _chromium(binary, tmp_path / "profile2", f"--screenshot={png}", "--window-size=1200,3000", page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (1200, 3000)
        colours = image.convert("RGB").resize((120, 300)).getcolors(maxcolors=100_000) or []
        assert len(colours) > 50  # charts and text, not a blank page


# Appended to a copy of the page (the report itself has no script): writes where each part of the
# first screen ends, in page pixels, into the DOM that --dump-dom prints.
MEASURE = """<script>
const found = {};
for (const selector of ["#verdict .banner", "#action .action", "#action .effect", "#change-summary ul.changes"]) {
  const el = document.querySelector(selector);
  if (el) { const r = el.getBoundingClientRect(); found[selector] = [r.top + scrollY, r.bottom + scrollY]; }
}
document.body.setAttribute("data-measured", JSON.stringify(found));
</script>"""
FIRST_SCREEN = 1000  # px, at the width the screenshots use


def _first_screen(binary: Path, page: Path, profile: Path) -> dict[str, list[float]]:
    """Return each first-screen element's [top, bottom] in page pixels, as Chromium lays the page out 1,200 px wide."""
    import html as html_module
    import json

    probe = page.with_name("measured.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium(binary, profile, f"--window-size=1200,{FIRST_SCREEN}", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-measured="([^"]*)"', dom.stdout)
    assert found, "the measuring script did not run"
    return json.loads(html_module.unescape(found.group(1)))


def test_chromium_shows_the_action_on_the_first_screen(tmp_path: Path) -> None:
    """The verdict, the one recommended change and the change against the baseline end within 1,000 px."""
    binary = require_chromium()
    page = tmp_path / "report.html"
    html = _write_report(EXAMPLES / "shared-instance.yaml", page)
    assert "rollout 17,462 → 63 vs alarm 64" in html and "+$21.90/month" in html
    measured = _first_screen(binary, page, tmp_path / "profile")
    assert set(measured) == {"#verdict .banner", "#action .action", "#action .effect"}
    for selector, (_, bottom) in measured.items():
        assert bottom <= FIRST_SCREEN, (selector, bottom)
    # the details stay below
    assert html.index('id="action"') < html.index('id="demand"') < html.index('id="recommendations"')

    before = tmp_path / "before.yaml"
    before.write_text((EXAMPLES / "shared-instance.yaml").read_text().replace("replicas: {min: 4, max: 10}", "replicas: {min: 2, max: 6}"))
    html = _write_report(EXAMPLES / "shared-instance.yaml", page, "--baseline", str(before))
    summary = " ".join(html.split('id="change-summary"', 1)[1].split("</section>", 1)[0].split())
    assert "Against baseline shared-instance" in summary and "rollout on main/writer: 17,302 → 17,462 (+160), OVER" in summary
    measured = _first_screen(binary, page, tmp_path / "profile2")
    assert "#change-summary ul.changes" in measured
    for selector, (_, bottom) in measured.items():
        assert bottom <= FIRST_SCREEN, (selector, bottom)


def test_chromium_binary_name_is_the_debian_one() -> None:
    """The path the tests use is where Debian's package puts it (and what make test installs)."""
    script = (Path(__file__).parents[2] / "scripts" / "ensure-system-deps.sh").read_text()
    assert str(CHROMIUM) in script and "chromium" in script
    if shutil.which("chromium") and not os.environ.get("CI"):
        assert Path(shutil.which("chromium") or "").resolve().exists()


def test_report_shows_the_observed_peak(tmp_path: Path) -> None:
    """`report --observed` puts CloudWatch's peak next to the plan and warns where the plan is below it."""
    import json

    from ..conftest import EXAMPLES, run_cli

    observed = tmp_path / "observed.json"
    observed.write_text(json.dumps({
        "version": 1, "metric": "AWS/RDS DatabaseConnections", "statistic": "Maximum", "period_seconds": 300,
        "observations": [{"instance": "prod-db", "database": "main", "role": "writer", "peak": 480,
                          "peak_at": "2026-11-02T14:05:00Z", "days": 14}],
    }))
    target = tmp_path / "r.html"
    code, _, err = run_cli(["report", str(EXAMPLES / "pgbouncer-fleet.yaml"), "--observed", str(observed), "-o", str(target)])
    assert code == 0, err
    html = target.read_text()
    assert "observed peak 480 (CloudWatch DatabaseConnections, 2026-11-02, 14 days)" in html
    assert "below the 480 connections CloudWatch saw" in html


def test_baseline_from_a_git_ref_leads_with_the_change(repo: Path) -> None:
    """`--baseline git:REF:PATH` reads the base from git, as `planner diff` does, and the first screen says what changed."""
    html = _write_report(repo / "topo.yaml", repo / "r.html", "--baseline", "git:HEAD~1:topo.yaml")
    summary = " ".join(html.split('id="change-summary"', 1)[1].split("</section>", 1)[0].split())
    assert "Against baseline pgbouncer-fleet" in summary
    assert "on pooler bouncer (client side): 2,440 → 2,500 (+60)" in summary
    code, _, err = run_cli(["report", str(repo / "topo.yaml"), "--baseline", "git:nope:topo.yaml", "-o", str(repo / "x.html")])
    assert code == 2 and "unknown revision 'nope'" in err and not (repo / "x.html").exists()
