"""The instance-class catalogue: its data, its build, and load_catalog's validation."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import subprocess
import sys
import time
from dataclasses import replace
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
from planner.catalog import estimate
from planner.catalog.calibration import error_of
from planner.errors import InputError
from planner.model import RDS_ENGINES, price_for
from planner.reserves import parse_engine_version

ROOT = Path(__file__).resolve().parents[2]
TEST_DATA = ROOT / "tests" / "data"
CATALOG_CSV = ROOT / "data" / "instance_classes.csv"
PACKAGED_CSV = ROOT / "planner" / "data" / "instance_classes.csv"
REPORT_MD = ROOT / "data" / "calibration_report.md"
RULES_CSV = ROOT / "planner" / "data" / "estimate_rules.csv"
EXTRA_CSV = ROOT / "data" / "calibration_extra.csv"
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
    """(engine, class, lowest confident published/observed default, source kind) per PostgreSQL class+engine."""
    values: dict[tuple[str, str], tuple[int, str]] = {}
    for path in (TEST_DATA / "max_connections_calibration.csv", EXTRA_CSV):
        for row in _read(path):
            if row["engine"] not in RDS_ENGINES or row["instance_class"] == "db.serverless":
                continue
            if row["confidence"].startswith("low"):
                continue
            key = (row["engine"], row["instance_class"])
            n = int(row["max_connections"])
            if key not in values or n < values[key][0]:
                values[key] = (n, row["source_kind"])
    return [(e, c, n, kind) for (e, c), (n, kind) in sorted(values.items())]


CALIBRATION = _calibration()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def fitted():
    classes = build_catalog.load_classes(TEST_DATA)
    readings = build_catalog.load_readings(TEST_DATA, classes)
    return readings, build_catalog.fit_rules(readings)


# --------------------------------------------------------------------------- calibration


def test_calibration_covers_both_engines_small_classes_and_extra_readings():
    engines = {e for e, *_ in CALIBRATION}
    assert engines == set(RDS_ENGINES)
    for reading in [("postgres", "db.m7g.large", 832, "observed"), ("postgres", "db.r6g.xlarge", 3484, "observed"),
                    ("postgres", "db.t3.micro", 81, "observed"), ("postgres", "db.t4g.micro", 79, "observed"),
                    ("postgres", "db.t3.small", 191, "observed"), ("postgres", "db.t4g.small", 181, "observed")]:
        assert reading in CALIBRATION


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


def test_the_small_classes_read_what_real_instances_read(catalog):
    # the readings that broke the old rules (issue 10): 43 and 53 where real instances read 81 and 79
    got = {name: default_max_connections(catalog.dbicm(name, "postgres").dbicm_bytes)
           for name in ("db.t3.micro", "db.t4g.micro", "db.t3.small", "db.t4g.small")}
    assert got == {"db.t3.micro": 81, "db.t4g.micro": 79, "db.t3.small": 191, "db.t4g.small": 181}


def test_no_rule_over_predicts_a_reading_it_was_fitted_on(fitted):
    _, groups = fitted
    for group in groups.values():
        for reading in group.readings:
            assert error_of(group.rule, reading) <= 0.01, (group.rule.name, reading.instance_class)
        assert build_catalog.over_predictions(group) == []


def test_no_rule_over_predicts_a_held_out_reading_by_more_than_one_percent(fitted):
    _, groups = fitted
    for group in groups.values():
        assert max(group.held_out.values()) <= 0.01, group.rule.name
        low, high = group.rule.error_range
        # the range as written: to 0.01 %, rounded outwards
        assert min(group.held_out.values()) - 0.0001 <= low <= min(group.held_out.values())
        assert max(group.held_out.values()) <= high <= max(group.held_out.values()) + 0.0001
    everything = [e for g in groups.values() for e in g.held_out.values()]
    assert len(everything) >= 25
    within_two = sum(1 for e in everything if abs(e) <= 0.02)
    assert within_two >= len(everything) - 3  # the x86 group has 4 readings: its padded range is wider


def test_five_rules_one_per_rds_platform_and_aurora_graviton_apart_from_x86(fitted):
    _, groups = fitted
    assert set(groups) == {"rds-xen", "rds-nitro-x86", "rds-graviton", "aurora-graviton", "aurora-x86"}
    assert groups["aurora-x86"].shape_from == "aurora"  # two readings: the shape of all Aurora readings
    rules = estimate.fitted_rules()
    for (engine, platform), name in build_catalog.GROUPS.items():
        assert rules[(engine, platform)] == groups[name].rule  # the packaged rules are the fitted ones


NOTE_RE = re.compile(r"^rule (?P<name>[a-z0-9-]+): ")


def test_estimated_rows_follow_their_rule_and_carry_its_error_range(catalog):
    rules = {rule.name: rule for rule in estimate.fitted_rules().values()}
    count = 0
    for cls in catalog:
        for engine, memory in cls.memory.items():
            if memory.source != "estimated" or memory.note.startswith("read on RDS for MySQL"):
                continue
            rule = rules[NOTE_RE.match(memory.note)["name"]]
            assert memory.note == rule.note()
            assert memory.dbicm_bytes == rule.dbicm(estimate.nominal_bytes(Fraction(str(cls.memory_gib))), cls.vcpu)
            assert memory.error_range == rule.band_for(estimate.nominal_bytes(Fraction(str(cls.memory_gib))))
            count += 1
    assert count > 250


def test_estimates_are_below_nominal_memory_and_the_naive_default(catalog):
    for cls in catalog:
        nominal = Fraction(str(cls.memory_gib)) * GIB
        naive = int(nominal) // Q
        for memory in cls.memory.values():
            if memory.source == "estimated":
                assert 0 <= memory.dbicm_bytes < nominal, cls.instance_class
                if naive < MAX_CONNECTIONS_CAP:
                    assert memory.dbicm_bytes // Q < naive, cls.instance_class


def test_mysql_readings_pin_the_low_end_of_their_interval(catalog):
    memory = catalog.dbicm("db.m3.xlarge", "postgres")  # read on RDS for MySQL as 1237
    assert memory.dbicm_bytes == 1237 * 12582880 and memory.source == "estimated"
    assert "read on RDS for MySQL as 1237" in memory.note


def test_integer_roots_are_exact():
    for nominal in (1, GIB, 3 * GIB // 4, 15616 * MIB, 1024 * GIB, 768 * GIB + 12345):
        for power in estimate.POWERS:
            x = estimate.gib_power(nominal, power)
            exact = (Fraction(nominal, GIB) ** 1) if power == 1 else None
            assert x >= 0
            # floor(v × 2^20) is within one unit of the real value, from below
            real = (nominal / GIB) ** float(power) * 2**20
            assert x <= real + 1e-6 * max(1.0, real) and real - x < 1 + 1e-6 * real, (nominal, power)
            if exact is not None:
                assert x == int(exact * 2**20)


# --------------------------------------------------------------------------- the build


def test_rebuild_is_byte_identical(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--reference-dir", str(TEST_DATA), "--output-root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "held out (leave-one-out)" in result.stdout
    built = (tmp_path / "data" / "instance_classes.csv").read_bytes()
    assert built == CATALOG_CSV.read_bytes()
    assert (tmp_path / "planner" / "data" / "instance_classes.csv").read_bytes() == built
    assert (tmp_path / "planner" / "data" / "estimate_rules.csv").read_bytes() == RULES_CSV.read_bytes()
    assert (tmp_path / "data" / "calibration_report.md").read_bytes() == REPORT_MD.read_bytes()


def test_packaged_copy_is_identical():
    assert PACKAGED_CSV.read_bytes() == CATALOG_CSV.read_bytes()


def test_build_is_deterministic_in_process():
    first = build_catalog.build(TEST_DATA)
    second = build_catalog.build(TEST_DATA)
    assert first == second
    assert first[3] == []


def test_build_fails_when_a_rule_over_predicts(monkeypatch, tmp_path):
    real = build_catalog.fit_rules

    def optimistic(readings):
        groups = real(readings)
        return {name: replace(g, rule=replace(g.rule, b=-500, margin=0)) for name, g in groups.items()}

    monkeypatch.setattr(build_catalog, "fit_rules", optimistic)
    code = build_catalog.main(["--reference-dir", str(TEST_DATA), "--output-root", str(tmp_path)])
    assert code == 1
    assert not (tmp_path / "data" / "instance_classes.csv").exists()


def test_build_reports_bad_reference_dir(tmp_path, capsys):
    assert build_catalog.main(["--reference-dir", str(tmp_path), "--output-root", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "expected"), [
    ("All PostgreSQL 15 versions, PostgreSQL 14.5 and higher 14 versions, PostgreSQL 13.4 and PostgreSQL 13.7 and higher 13 versions",
     "13.4;14.5;15.0"),
    ("All PostgreSQL 15, 14, 13, 12, 11, and 10 versions; PostgreSQL 9.6.22 and higher versions", "9.22;10.0;11.0;12.0;13.0;14.0;15.0"),
    ("All PostgreSQL 15 versions, all PostgreSQL 14 versions; PostgreSQL 13.4 and higher 13 versions, PostgreSQL 12.8 and higher "
     "12 versions, PostgreSQL 11.13 and higher 13 versions, and PostgreSQL 10.21 and higher 10 versions", "10.21;11.13;12.8;13.4;14.0;15.0"),
    ("Lower than PostgreSQL 13", "<13"),
    ("15.2 and higher, 14.3 and higher, 13.3 and higher, 12.8 and higher, 11.9, 11.12 and higher", "11.9;12.8;13.3;14.3;15.2"),
    ("No (table); prose in the same page: db.r4 supported only for Aurora PostgreSQL 11 and 12 versions", "<13"),
    ("All currently available versions", ""),
])
def test_docs_version_cells_become_first_minors(text, expected):
    assert build_catalog._version_support(text).text() == expected


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


def test_extra_readings_and_current_prices(catalog):
    m7g = catalog.dbicm("db.m7g.large", "postgres")
    assert m7g.source == "observed" and m7g.note.startswith("shared/data/README.md")
    assert default_max_connections(m7g.dbicm_bytes) == 832
    m7 = catalog.get("db.m7g.xlarge")
    single = price_for(m7, "postgres")
    assert single is not None and single.usd_per_hour == pytest.approx(0.337)
    assert (single.region, single.date) == ("us-east-1", "2026-05-12")
    assert "rds-postgresql-ondemand.json" in single.source
    assert price_for(m7, "postgres", "multi-az").usd_per_hour == pytest.approx(0.674)
    aurora = price_for(catalog.get("db.r6g.large"), "aurora-postgresql", "aurora-io-optimized")
    assert aurora is not None and aurora.usd_per_hour == pytest.approx(0.338) and "rds-aurora-ondemand.json" in aurora.source
    for name in ("db.m7g.large", "db.r7g.large", "db.m8g.large", "db.r8g.large", "db.m6i.large", "db.r6i.large",
                 "db.m7i.large", "db.r7i.large", "db.t4g.medium", "db.t3.medium"):
        assert price_for(catalog.get(name), "postgres") is not None, name  # current Graviton and Intel classes


def test_where_classes_can_be_ordered(catalog):
    c6gd = catalog.get("db.c6gd.large")
    assert [c6gd.deployable("postgres", d) for d in ("single-az", "multi-az", "multi-az-cluster")] == [False, False, True]
    m6gd = catalog.get("db.m6gd.large")
    assert all(m6gd.deployable("postgres", d) for d in ("single-az", "multi-az", "multi-az-cluster"))
    m7g = catalog.get("db.m7g.large")
    assert m7g.deployable("postgres", "multi-az-cluster") is False
    assert m7g.deployable("aurora-postgresql", "aurora-standard") is False  # not an Aurora class
    t2 = catalog.get("db.t2.micro")
    assert t2.deployable("postgres", "single-az", parse_engine_version("12")) is True
    assert t2.deployable("postgres", "single-az", parse_engine_version("16")) is False  # "lower than PostgreSQL 13"
    m6g = catalog.get("db.m6g.large")
    assert m6g.deployable("postgres", "single-az", parse_engine_version("12.6")) is False  # from 12.7
    assert m6g.deployable("postgres", "single-az", parse_engine_version("17")) is True  # newer than the docs table


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
    load_catalog()  # warm: modules imported, file cached
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
    path = _user_csv(tmp_path, drop="usd_hour_single_az")
    cls = load_catalog(path).get("db.t2.micro")
    assert price_for(cls, "postgres") is None and price_for(cls, "postgres", "multi-az") is not None


def test_a_catalogue_of_the_older_format_still_reads(tmp_path):
    """Before deployments and prices per deployment: one price column, RDS for PostgreSQL Single-AZ."""
    old = ("instance_class,family,generation,size,arch,burstable,vcpu,memory_gib,retired,price_usd_hour,price_source,"
           "dbicm_postgres,dbicm_postgres_source,dbicm_postgres_note,dbicm_aurora_postgresql,dbicm_aurora_postgresql_source,"
           "dbicm_aurora_postgresql_note\n"
           "db.m5.large,m5,5,large,x86_64,false,2,8,false,0.178,\"AWS price list, 2021-08-03\",7848101888,observed,,,,\n")
    path = tmp_path / "old.csv"
    path.write_text(old)
    cls = load_catalog(path).get("db.m5.large")
    price = price_for(cls, "postgres")
    assert price is not None and price.usd_per_hour == pytest.approx(0.178) and price.source == "AWS price list, 2021-08-03"
    assert cls.orderable == {} and cls.deployable("postgres", "single-az") is None  # nothing known, nothing assumed


@pytest.mark.parametrize(("column", "value", "message"), [
    ("orderable_multi_az", "maybe", "'maybe' is not true, false or unknown"),
    ("postgres_versions", "fifteen", "'fifteen' is not a list of versions"),
    ("dbicm_postgres_error", "2 %", "'2 %' is not an error range"),
    ("usd_hour_multi_az", "-1", "'-1' is not a price"),
])
def test_bad_deployment_and_price_cells(tmp_path, column, value, message):
    def edit(rows):
        rows[1][column] = value

    path = _user_csv(tmp_path, edit)
    with pytest.raises(InputError) as info:
        load_catalog(path)
    assert f"mine.csv:3: {column}: {message}" in str(info.value)


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
    with pytest.raises(InputError, match=rf"mine\.csv:3: {len(COLUMNS) + 1} fields but the header has {len(COLUMNS)}"):
        load_catalog(path)


def test_unclosed_quote_is_reported_not_swallowed(tmp_path):
    """A quote that never closes would take every row after it into one value: it is an error, with its line."""
    path = _user_csv(tmp_path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace("db.t2.micro", '"db.t2.micro', 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"mine\.csv:2: not a valid CSV file: a quoted value is never closed"):
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
        # the middle of [n × Q, (n+1) × Q)
        assert dbicm - n * Q == (n + 1) * Q - dbicm
    assert dbicm_from_observation(5000) == 5000 * Q


@pytest.mark.parametrize("bad", [0, -1, 5001])
def test_dbicm_from_observation_range(bad):
    with pytest.raises(ValueError):
        dbicm_from_observation(bad)
