"""The instance-class catalogue: its data, its build, and load_catalog's validation."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from planner.catalog import (
    COLUMNS,
    DBICM_DIVISOR,
    MAX_CONNECTIONS_CAP,
    Catalog,
    dbicm_from_observation,
    default_max_connections,
    load_catalog,
)
from planner.errors import InputError
from planner.model import RDS_ENGINES

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
CATALOG_CSV = ROOT / "data" / "instance_classes.csv"
PACKAGED_CSV = ROOT / "planner" / "data" / "instance_classes.csv"
REPORT_MD = ROOT / "data" / "calibration_report.md"
SCRIPT = ROOT / "scripts" / "build_catalog.py"
Q = 9531392
GIB = 1 << 30
MIB = 1 << 20
ENGINE_COLUMN = {"postgres": "dbicm_postgres", "aurora-postgresql": "dbicm_aurora_postgresql"}


def _load_script():
    spec = importlib.util.spec_from_file_location("build_catalog", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_catalog"] = module  # dataclasses look the module up while it executes
    spec.loader.exec_module(module)
    return module


build_catalog = _load_script()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


CATALOG_ROWS = _read(CATALOG_CSV)
BY_CLASS = {row["instance_class"]: row for row in CATALOG_ROWS}


def _calibration() -> list[tuple[str, str, int, str]]:
    """(engine, class, lowest published/observed default, source kind) per class+engine."""
    values: dict[tuple[str, str], tuple[int, str]] = {}
    for row in _read(TEST_DATA / "max_connections_calibration.csv"):
        if row["engine"] not in RDS_ENGINES or row["instance_class"] == "db.serverless":
            continue
        key = (row["engine"], row["instance_class"])
        n = int(row["max_connections"])
        if key not in values or n < values[key][0]:
            values[key] = (n, row["source_kind"])
    for engine, name, n in build_catalog.README_OBSERVATIONS:
        values[(engine, name)] = (n, "observed")
    return [(e, c, n, kind) for (e, c), (n, kind) in sorted(values.items())]


CALIBRATION = _calibration()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def fitted():
    _, points, _ = build_catalog.load_reference(TEST_DATA)
    rules, _ = build_catalog.fit_rules(points)
    return points, rules


# --------------------------------------------------------------------------- calibration


def test_calibration_covers_both_engines_and_readme_observations():
    engines = {e for e, *_ in CALIBRATION}
    assert engines == set(RDS_ENGINES)
    assert ("postgres", "db.m7g.large", 832, "observed") in CALIBRATION
    assert ("postgres", "db.r6g.xlarge", 3484, "observed") in CALIBRATION
    assert len(CALIBRATION) == 12 + 30  # 10 + 2 README rows for postgres, 30 Aurora classes


@pytest.mark.parametrize(("engine", "instance_class", "n", "kind"), CALIBRATION, ids=lambda v: str(v))
def test_calibration_value_is_reproduced_exactly(catalog, engine, instance_class, n, kind):
    memory = catalog.dbicm(instance_class, engine)
    assert default_max_connections(memory.dbicm_bytes) == n
    assert min(memory.dbicm_bytes // Q, 5000) == n  # the formula itself, spelled out
    assert memory.source == kind
    if n < MAX_CONNECTIONS_CAP:
        assert memory.dbicm_bytes == n * Q + Q // 2
    else:
        assert memory.dbicm_bytes >= MAX_CONNECTIONS_CAP * Q
        assert "lower bound: default capped at 5000" in memory.note


def test_no_rule_estimate_over_predicts_a_calibration_point(fitted):
    points, rules = fitted
    over = []
    for p in points:
        predicted = rules[(p.engine, p.platform)].predict(p.nominal, p.vcpu)
        assert predicted <= MAX_CONNECTIONS_CAP
        if not p.capped and predicted > p.n:
            over.append((p.engine, p.instance_class, p.n, predicted))
        assert predicted <= p.n * Fraction(101, 100), (p, predicted)  # acceptance limit: 1 %
    assert over == []  # the target: never optimistic at all
    assert build_catalog.over_predictions(points, rules) == []


def test_six_rules_one_per_engine_and_platform(fitted):
    _, rules = fitted
    assert set(rules) == {(e, p) for e in RDS_ENGINES for p in ("xen", "nitro-x86", "graviton")}
    for rule in rules.values():
        assert rule.k in build_catalog.A_GRID
        assert rule.c in build_catalog.C_GRID


NOTE_RE = re.compile(
    r"^rule (?P<name>[a-z0-9-]+): (?P<a>\d\.\d{4})×nominal (?P<sign>[−+]) (?P<b>\d+) MiB − (?P<c>\d+) MiB×vCPU"
)


def _rule_from_note(note: str) -> tuple[str, Fraction, int, int]:
    m = NOTE_RE.match(note)
    assert m, note
    b = int(m["b"]) if m["sign"] == "−" else -int(m["b"])
    return m["name"], Fraction(m["a"]), b, int(m["c"])


def _apply(a: Fraction, b: int, c: int, memory_gib: str, vcpu: int) -> int:
    return max(0, int(a * Fraction(memory_gib) * GIB) - (b + c * vcpu) * MIB)


def test_estimated_rows_follow_the_rule_written_in_their_note():
    seen: dict[str, tuple[Fraction, int, int]] = {}
    for row in CATALOG_ROWS:
        for engine, column in ENGINE_COLUMN.items():
            if row[f"{column}_source"] != "estimated":
                continue
            name, a, b, c = _rule_from_note(row[f"{column}_note"])
            assert seen.setdefault(name, (a, b, c)) == (a, b, c), "one rule, one set of parameters"
            assert int(row[column]) == _apply(a, b, c, row["memory_gib"], int(row["vcpu"])), row["instance_class"]


def test_rules_in_the_data_never_over_predict_calibration_classes(fitted):
    """Recompute the estimate of each calibration class from the rule parameters in the CSV notes."""
    points, rules = fitted
    in_data: dict[str, tuple[Fraction, int, int]] = {}
    for row in CATALOG_ROWS:
        for column in ENGINE_COLUMN.values():
            if row[f"{column}_source"] == "estimated":
                name, a, b, c = _rule_from_note(row[f"{column}_note"])
                in_data[name] = (a, b, c)
    for rule in rules.values():  # the data holds the rules the fit produces
        if rule.name in in_data:
            assert in_data[rule.name] == (Fraction(rule.k, build_catalog.A_SCALE), rule.b, rule.c)
    checked = 0
    for p in points:
        name = f"{build_catalog.ENGINE_PREFIX[p.engine]}-{p.platform}"
        if name not in in_data or p.capped:
            continue
        row = BY_CLASS[p.instance_class]
        predicted = min(_apply(*in_data[name], row["memory_gib"], int(row["vcpu"])) // Q, 5000)
        assert predicted <= p.n, (p.instance_class, p.engine, predicted, p.n)
        checked += 1
    assert checked >= 15


def test_estimates_are_below_nominal_memory():
    estimated = 0
    for row in CATALOG_ROWS:
        nominal = Fraction(row["memory_gib"]) * GIB
        for column in ENGINE_COLUMN.values():
            if row[f"{column}_source"] == "estimated":
                estimated += 1
                assert int(row[column]) < nominal, row["instance_class"]
                assert int(row[column]) >= 0
    assert estimated > 300


def test_estimates_are_below_the_naive_default_for_small_classes():
    for row in CATALOG_ROWS:
        naive = int(Fraction(row["memory_gib"]) * GIB) // Q
        for column in ENGINE_COLUMN.values():
            if row[f"{column}_source"] == "estimated" and naive < MAX_CONNECTIONS_CAP:
                assert int(row[column]) // Q < naive, row["instance_class"]


# --------------------------------------------------------------------------- the build


def test_rebuild_is_byte_identical(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--reference-dir", str(TEST_DATA), "--output-root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "## All held-in uncapped points" in result.stdout
    built = (tmp_path / "data" / "instance_classes.csv").read_bytes()
    assert built == CATALOG_CSV.read_bytes()
    assert (tmp_path / "planner" / "data" / "instance_classes.csv").read_bytes() == built
    assert (tmp_path / "data" / "calibration_report.md").read_bytes() == REPORT_MD.read_bytes()


def test_packaged_copy_is_identical():
    assert PACKAGED_CSV.read_bytes() == CATALOG_CSV.read_bytes()


def test_build_is_deterministic_in_process():
    first = build_catalog.build(TEST_DATA)
    second = build_catalog.build(TEST_DATA)
    assert first == second
    assert first[2] == []


def test_build_fails_when_an_estimate_over_predicts(monkeypatch, tmp_path):
    real = build_catalog.fit_rules

    def optimistic(points):
        rules, pooled = real(points)
        return {key: build_catalog.Rule(r.name, 20000, -500, 0, r.points) for key, r in rules.items()}, pooled

    monkeypatch.setattr(build_catalog, "fit_rules", optimistic)
    code = build_catalog.main(["--reference-dir", str(TEST_DATA), "--output-root", str(tmp_path)])
    assert code == 1
    assert not (tmp_path / "data" / "instance_classes.csv").exists()


def test_build_reports_bad_reference_dir(tmp_path, capsys):
    assert build_catalog.main(["--reference-dir", str(tmp_path), "--output-root", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


# --------------------------------------------------------------------------- catalogue contents


def test_columns_in_order():
    with CATALOG_CSV.open(newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == COLUMNS


def test_rows_cover_postgres_classes_and_retired_families(catalog):
    reference = _read(TEST_DATA / "rds_instance_classes_reference.csv")
    expected = {
        r["instance_class"]
        for r in reference
        if r["vcpu"]
        and r["instance_class"] != "db.serverless"
        and (set(r["engines"].split(";")) & set(RDS_ENGINES) or r["family"] in {"t2", "m3", "m4", "r3", "r4"})
    }
    assert set(catalog.names()) == expected
    assert len(catalog) == 298
    assert not any(n.startswith("db.x2m.") for n in catalog.names())
    assert "db.serverless" not in catalog
    for cls in catalog:
        retired = cls.family in {"t2", "m3", "m4", "r3", "r4"}
        assert cls.retired is retired
        if retired:
            assert cls.supports("postgres")
        assert cls.supports("postgres") or cls.supports("aurora-postgresql")
    assert catalog.get("db.r4.large").supports("aurora-postgresql")
    assert not catalog.get("db.r3.large").supports("aurora-postgresql")


def test_readme_observations_and_prices(catalog):
    m7g = catalog.dbicm("db.m7g.large", "postgres")
    assert (m7g.source, m7g.note) == ("observed", "shared/data/README.md (observed)")
    assert default_max_connections(m7g.dbicm_bytes) == 832
    m5 = catalog.get("db.m5.large")
    assert m5.price_usd_hour == pytest.approx(0.178)
    assert m5.price_source == "AWS price list via vantage, us-east-1 Single-AZ postgres, 2021-08-03"
    m7 = catalog.get("db.m7g.xlarge")
    assert (m7.price_usd_hour, m7.price_source) == (None, "")


def test_low_confidence_values_say_so(catalog):
    assert "confidence low" in catalog.dbicm("db.r5.large", "aurora-postgresql").note


# --------------------------------------------------------------------------- Catalog API


def test_get_find_and_did_you_mean(catalog):
    assert catalog.get("db.m6g.large").vcpu == 2
    assert catalog.find("db.m6g.large") is catalog.get("db.m6g.large")
    assert catalog.find("db.nope.large") is None
    with pytest.raises(InputError) as err:
        catalog.get("db.m6g.larg")
    assert "unknown instance class 'db.m6g.larg'" in str(err.value)
    assert "did you mean db.m6g.large" in str(err.value)
    assert err.value.exit_code == 2
    for typo in ("m6g.large", "DB.M6G.LARGE"):
        with pytest.raises(InputError, match=r"did you mean db\.m6g\.large\?"):
            catalog.get(typo)
    with pytest.raises(InputError, match="--catalog"):
        catalog.get("db.zzz9.huge")


def test_dbicm_engine_support(catalog):
    assert catalog.dbicm("db.r6g.xlarge", "aurora-postgresql").source == "aws-doc"
    with pytest.raises(InputError) as err:
        catalog.dbicm("db.m5.large", "aurora-postgresql")
    text = str(err.value)
    assert "db.m5.large is not available for aurora-postgresql" in text
    assert "supports postgres" in text
    with pytest.raises(InputError, match="did you mean aurora-postgresql"):
        catalog.dbicm("db.r6g.large", "aurora-postgres")
    with pytest.raises(InputError, match="not an RDS engine"):
        catalog.dbicm("db.r6g.large", "self-managed")


def test_classes_sorted_and_filtered(catalog):
    everything = catalog.classes()
    assert len(everything) == len(catalog)
    keys = [(c.memory_gib, c.vcpu, c.instance_class) for c in everything]
    assert keys == sorted(keys)
    aurora = catalog.classes(engine="aurora-postgresql")
    assert aurora and all(c.supports("aurora-postgresql") for c in aurora)
    assert "db.m5.large" not in {c.instance_class for c in aurora}
    assert len(catalog.classes(engine="postgres")) > len(aurora)
    assert catalog.classes(engine="self-managed") == []
    small = catalog.classes(engine="aurora-postgresql", family="t3, t4g")
    assert [c.instance_class for c in small] == ["db.t3.medium", "db.t4g.medium", "db.t3.large", "db.t4g.large"]
    assert {c.family for c in catalog.classes(family="m6g")} == {"m6g"}
    with pytest.raises(InputError, match="did you mean m6g"):
        catalog.classes(family="m6gg")
    with pytest.raises(InputError, match="unknown engine"):
        catalog.classes(engine="mysql")


def test_load_is_fast():
    load_catalog()  # warm: pandas imported, file cached
    best = min(_timed(load_catalog) for _ in range(5))
    assert best < 0.050


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --------------------------------------------------------------------------- user catalogues


def _user_csv(tmp_path: Path, edit=None, drop: str | None = None, name: str = "mine.csv") -> Path:
    """Write the header and the first three rows of the real catalogue, after ``edit(rows)``."""
    rows = [dict(r) for r in CATALOG_ROWS[:3]]
    if edit:
        edit(rows)
    columns = [c for c in COLUMNS if c != drop]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_user_catalogue_loads(tmp_path):
    path = _user_csv(tmp_path)
    catalog = load_catalog(path)
    assert len(catalog) == 3
    assert catalog.path == str(path)
    assert catalog.get("db.t2.micro").retired is True


def test_optional_columns_may_be_left_out(tmp_path):
    path = _user_csv(tmp_path, drop="price_usd_hour")
    assert load_catalog(path).get("db.t2.micro").price_usd_hour is None


def test_missing_column(tmp_path):
    path = _user_csv(tmp_path, drop="vcpu")
    with pytest.raises(InputError) as err:
        load_catalog(path)
    assert str(err.value) == f"{path}:1: vcpu: missing column (add a 'vcpu' column to the header)"


def test_misspelled_column(tmp_path):
    path = _user_csv(tmp_path)
    path.write_text(path.read_text().replace("memory_gib", "memory_gb", 1))
    with pytest.raises(InputError, match=r"mine\.csv:1: memory_gib: missing column \(found 'memory_gb': rename it"):
        load_catalog(path)


def test_non_numeric_vcpu(tmp_path):
    def edit(rows):
        rows[1]["vcpu"] = "four"

    path = _user_csv(tmp_path, edit)
    with pytest.raises(InputError) as err:
        load_catalog(path)
    assert str(err.value) == (
        f"{path}:3: vcpu: 'four' is not a whole number (write the vCPU count, e.g. 4)"
    )


def test_duplicate_class(tmp_path):
    def edit(rows):
        rows[2]["instance_class"] = rows[0]["instance_class"]

    path = _user_csv(tmp_path, edit)
    with pytest.raises(InputError) as err:
        load_catalog(path)
    assert str(err.value) == (
        f"{path}:4: instance_class: duplicate class db.t2.micro (first on line 2) (keep one row per class)"
    )


def test_negative_memory(tmp_path):
    def edit(rows):
        rows[0]["memory_gib"] = "-8"

    path = _user_csv(tmp_path, edit)
    with pytest.raises(InputError, match=r"mine\.csv:2: memory_gib: negative memory \(-8\)"):
        load_catalog(path)


def test_all_problems_reported_with_lines_after_blank_line(tmp_path):
    def edit(rows):
        rows[0]["burstable"] = "yes"
        rows[2]["dbicm_postgres"] = "lots"
        rows[2]["dbicm_postgres_source"] = "guessed"

    path = _user_csv(tmp_path, edit)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")  # a blank line 3 shifts the rest
    with pytest.raises(InputError) as err:
        load_catalog(path)
    assert err.value.lines() == [
        f"{path}:2: burstable: 'yes' is not true or false (write true or false)",
        f"{path}:5: dbicm_postgres: 'lots' is not a whole number of bytes "
        "(write DBInstanceClassMemory in bytes, or leave it empty if the class does not run postgres)",
        f"{path}:5: dbicm_postgres_source: 'guessed' is not a source (write observed, aws-doc, estimated)",
    ]


def test_quoted_newline_keeps_line_numbers(tmp_path):
    def edit(rows):
        rows[0]["dbicm_postgres_note"] = "two\nlines"
        rows[1]["generation"] = "x"

    path = _user_csv(tmp_path, edit)
    with pytest.raises(InputError, match=r"mine\.csv:4: generation: 'x' is not a whole number"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "catalogue file not found"),
        (b"", "the catalogue file is empty"),
        (b"\xff\xfe\x00junk", "not UTF-8 text"),
    ],
)
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=expected):
        load_catalog(path)


def test_extra_fields_on_a_line(tmp_path):
    path = _user_csv(tmp_path)
    lines = path.read_text().splitlines()
    lines[2] += ",surplus"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"mine\.csv:3: 18 fields but the header has 17"):
        load_catalog(path)


def test_duplicate_header_column(tmp_path):
    path = _user_csv(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",vcpu"] + [line + ",2" for line in lines[1:]]) + "\n")
    with pytest.raises(InputError, match=r"mine\.csv:1: vcpu: column appears twice"):
        load_catalog(path)


# --------------------------------------------------------------------------- observations


def _observations(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "observed.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_observation_pins_the_default(tmp_path, catalog):
    before = catalog.dbicm("db.m6g.large", "postgres")
    assert before.source == "estimated"
    path = _observations(tmp_path, "engine,instance_class,max_connections,source\n"
                                   "postgres,db.m6g.large,811,prod-db-1 2024-05\n")  # fmt: skip
    overlaid = load_catalog(observations=path)
    memory = overlaid.dbicm("db.m6g.large", "postgres")
    assert default_max_connections(memory.dbicm_bytes) == 811
    assert memory.dbicm_bytes == dbicm_from_observation(811)
    assert memory.source == "observed"
    assert memory.note == f"user observation ({path}:2): prod-db-1 2024-05"
    assert overlaid.get("db.m6g.xlarge") == catalog.get("db.m6g.xlarge")  # others untouched


def test_observation_without_source_column_and_lowest_reading_wins(tmp_path):
    path = _observations(tmp_path, "instance_class,engine,max_connections\n"
                                   "db.r6g.large,aurora-postgresql,1700\n\n"
                                   "db.r6g.large,aurora-postgresql,1690\n")  # fmt: skip
    memory = load_catalog(observations=path).dbicm("db.r6g.large", "aurora-postgresql")
    assert default_max_connections(memory.dbicm_bytes) == 1690
    assert memory.note == f"user observation ({path}:4)"


def test_observation_at_the_cap_is_only_a_lower_bound(tmp_path, catalog):
    big = catalog.dbicm("db.m6g.16xlarge", "postgres")
    assert big.dbicm_bytes > 5000 * Q
    path = _observations(tmp_path, "engine,instance_class,max_connections\n"
                                   "postgres,db.m6g.16xlarge,5000\n"
                                   "postgres,db.m6g.large,5000\n")  # fmt: skip
    overlaid = load_catalog(observations=path)
    kept = overlaid.dbicm("db.m6g.16xlarge", "postgres")
    assert kept.dbicm_bytes == big.dbicm_bytes  # not pinned down to 5000 × Q
    assert kept.source == "observed"
    assert "lower bound" in kept.note
    raised = overlaid.dbicm("db.m6g.large", "postgres")
    assert raised.dbicm_bytes == 5000 * Q  # raised to the bound
    assert default_max_connections(raised.dbicm_bytes) == 5000


def test_observation_for_unknown_class(tmp_path):
    path = _observations(tmp_path, "engine,instance_class,max_connections\npostgres,db.m6g.larg,811\n")
    with pytest.raises(InputError) as err:
        load_catalog(observations=path)
    assert str(err.value) == (
        f"{path}:2: instance_class: unknown instance class 'db.m6g.larg' "
        "(did you mean db.m6g.large or db.m6gd.large or db.m6g.xlarge?)"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("many", "max_connections: 'many' is not a whole number"),
        ("811.5", "max_connections: '811.5' is not a whole number"),
        ("", "max_connections: missing value"),
        ("0", "max_connections: 0 connections"),
        ("5001", "max_connections: 5001 is above the default formula's cap of 5000"),
    ],
)
def test_observation_bad_number(tmp_path, value, message):
    path = _observations(tmp_path, f"engine,instance_class,max_connections\npostgres,db.m6g.large,{value}\n")
    with pytest.raises(InputError) as err:
        load_catalog(observations=path)
    assert str(err.value).startswith(f"{path}:2: {message}")


def test_observation_bad_engine_and_missing_column(tmp_path):
    path = _observations(tmp_path, "engine,instance_class,max_connections\naurora-postgres,db.r6g.large,1700\n")
    expected = r"observed\.csv:2: engine: 'aurora-postgres' .*did you mean aurora-postgresql"
    with pytest.raises(InputError, match=expected):
        load_catalog(observations=path)
    path = _observations(tmp_path, "engine,class,max_connections\npostgres,db.r6g.large,1700\n")
    with pytest.raises(InputError, match=r"observed\.csv:1: instance_class: missing column"):
        load_catalog(observations=path)


def test_observation_overlays_a_user_catalogue(tmp_path):
    path = _user_csv(tmp_path)
    obs = _observations(tmp_path, "engine,instance_class,max_connections\npostgres,db.t2.medium,400\n")
    memory = load_catalog(path, observations=obs).dbicm("db.t2.medium", "postgres")
    assert default_max_connections(memory.dbicm_bytes) == 400


# --------------------------------------------------------------------------- dbicm_from_observation


def test_dbicm_from_observation_reproduces_every_value():
    assert DBICM_DIVISOR == build_catalog.Q == Q
    for n in range(1, MAX_CONNECTIONS_CAP):
        dbicm = dbicm_from_observation(n)
        assert default_max_connections(dbicm) == n
        assert dbicm == build_catalog.dbicm_from_observation(n)
        # the middle of [n × Q, (n+1) × Q)
        assert dbicm - n * Q == (n + 1) * Q - dbicm
    assert dbicm_from_observation(5000) == 5000 * Q


@pytest.mark.parametrize("bad", [0, -1, 5001])
def test_dbicm_from_observation_range(bad):
    with pytest.raises(ValueError):
        dbicm_from_observation(bad)
