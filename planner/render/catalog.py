"""``planner catalog`` output: the class list and one class in detail."""

from __future__ import annotations

import json
from typing import Any, Sequence

from planner.formula import evaluate_formula
from planner.model import (
    DEFAULT_DEPLOYMENT,
    DEFAULT_MAX_CONNECTIONS_FORMULA,
    DEPLOYMENT_LABELS,
    DEPLOYMENTS,
    RDS_ENGINES,
    EngineMemory,
    InstanceClass,
    price_for,
)
from planner.reserves import EngineVersion, parse_engine_version, reserves_for
from planner.render.data import reserve_dicts
from planner.render.table import markdown_table, text_table

DEFAULT_ENGINE_VERSION = "16"  # the topology's default engine_version (spec §1)


def default_budget(cls: InstanceClass, engine: str, memory: EngineMemory, version: EngineVersion | None = None) -> dict[str, Any]:
    """Return the spec §5 ``catalog show`` document for the default parameter group of ``version``."""
    version = version or parse_engine_version(DEFAULT_ENGINE_VERSION)
    def evaluate(dbicm: int) -> int:
        return evaluate_formula(DEFAULT_MAX_CONNECTIONS_FORMULA, {"DBInstanceClassMemory": dbicm, "DBInstanceVCPU": cls.vcpu})

    # the budget counts on the low end of the band where the value may be optimistic
    max_connections = evaluate(memory.budget_bytes())
    reserves = reserves_for(engine, version, {})
    reserved = sum(r.value for r in reserves)
    return {
        "instance_class": cls.instance_class,
        "engine": engine,
        "engine_version": version.text,
        "family": cls.family,
        "arch": cls.arch,
        "burstable": cls.burstable,
        "retired": cls.retired,
        "vcpu": cls.vcpu,
        "memory_gib": cls.memory_gib,
        "dbinstanceclassmemory_bytes": memory.dbicm_bytes,
        "max_connections_formula": DEFAULT_MAX_CONNECTIONS_FORMULA,
        "max_connections": max_connections,
        "reserved": reserved,
        "usable": max_connections - reserved,
        "reserved_detail": reserve_dicts(reserves),
        "reserved_estimated": any(r.estimated for r in reserves),
        "master_user_usable": max_connections - sum(r.value for r in reserves if not r.master_user_may_use),
        "max_connections_source": memory.source,
        "estimated": memory.source == "estimated",
        "max_connections_range": list(found) if (found := memory.reading_range(evaluate)) else None,
        "max_connections_estimate": evaluate(memory.dbicm_bytes) if memory.may_be_optimistic else None,
        "readings": memory.readings or None,
        "error_range_percent": [round(e * 100, 2) for e in memory.error_range] if memory.error_range else None,
        "source_note": memory.note,
        "deployments": {
            d: {"orderable": cls.deployable(engine, d, version), "price_usd_hour": p.usd_per_hour if (p := price_for(cls, engine, d)) else None}
            for d in DEPLOYMENTS[engine]
        },
        "orderable_source": cls.orderable_source or None,
        "price_usd_hour": p.usd_per_hour if (p := price_for(cls, engine)) else None,
        "price_source": _price_source(cls, engine),
    }


def _price_source(cls: InstanceClass, engine: str) -> str | None:
    """Return where the class's prices for ``engine`` come from (source, region, date), if any."""
    price = next((p for d in DEPLOYMENTS[engine] if (p := price_for(cls, engine, d))), None)
    return None if price is None else f"{price.source}, {price.region} on-demand, {price.date}"


def _rows(classes: Sequence[InstanceClass], engine: str | None) -> list[list[object]]:
    engines = [engine] if engine else list(RDS_ENGINES)
    rows: list[list[object]] = []
    for cls in classes:
        row: list[object] = [cls.instance_class, cls.vcpu, cls.memory_gib, cls.arch, "yes" if cls.retired else ""]
        for eng in engines:
            memory = cls.memory.get(eng)
            if memory is None:
                row.append("-")
            else:
                doc = default_budget(cls, eng, memory)
                row.append(f"{doc['max_connections']}{'*' if doc['estimated'] else ''}")
        price = price_for(cls, engine or "postgres")
        row.append(price.usd_per_hour if price else "-")
        rows.append(row)
    return rows


def _headers(engine: str | None) -> list[str]:
    engines = [engine] if engine else list(RDS_ENGINES)
    label = DEPLOYMENT_LABELS[DEFAULT_DEPLOYMENT[engine or "postgres"]]
    return ["CLASS", "VCPU", "MEMORY_GIB", "ARCH", "RETIRED"] + [f"MAX_CONN {e}" for e in engines] + [f"USD/HOUR ({label})"]


def render_list_text(classes: Sequence[InstanceClass], engine: str | None) -> str:
    """Return the class table with the default max_connections per engine (* = estimated)."""
    return text_table(_headers(engine), _rows(classes, engine)) + "\n\n* estimated from nominal memory; others observed or published by AWS"


def render_list_markdown(classes: Sequence[InstanceClass], engine: str | None) -> str:
    """Return the class table in Markdown."""
    return markdown_table([h.lower() for h in _headers(engine)], _rows(classes, engine))


def render_list_json(classes: Sequence[InstanceClass], engine: str | None) -> str:
    """Return one ``catalog show`` document per class and engine."""
    engines = [engine] if engine else list(RDS_ENGINES)
    docs = [default_budget(c, e, c.memory[e]) for c in classes for e in engines if e in c.memory]
    return json.dumps(docs, indent=2)


def render_show_json(cls: InstanceClass, engine: str, memory: EngineMemory, version: EngineVersion | None = None) -> str:
    """Return the ``catalog show --format json`` document."""
    return json.dumps(default_budget(cls, engine, memory, version), indent=2)


def render_show_text(cls: InstanceClass, engine: str, memory: EngineMemory, version: EngineVersion | None = None) -> str:
    """Return one class described for a person."""
    doc = default_budget(cls, engine, memory, version)
    estimate = ""
    if doc["estimated"]:
        found = doc["max_connections_range"]
        low, high = doc["error_range_percent"] or (None, None)
        point = doc["max_connections_estimate"]
        counted = f"; estimate {point}, counted at the low end as it may be optimistic" if point is not None else ""
        estimate = (f" (ESTIMATE: a real instance may read {found[0]}–{found[1]}; leave-one-out error of comparable "
                    f"classes {low:+.2f} % to {high:+.2f} %{counted})") if found else " (ESTIMATE)"
    elif doc["max_connections_range"]:
        found = doc["max_connections_range"]
        estimate = f" (the lowest reading: a real instance may read {found[0]}–{found[1]})"
    lines = [
        f"{cls.instance_class} on {engine}",
        f"  family {cls.family}, {cls.arch}, {cls.vcpu} vCPU, {cls.memory_gib:g} GiB"
        + (", burstable" if cls.burstable else "") + (", retired" if cls.retired else ""),
        f"  DBInstanceClassMemory  {memory.dbicm_bytes:,} bytes [{memory.source}]",
        f"    from: {memory.note}",
        *([f"    readings: {memory.readings}"] if memory.readings else []),
        f"  max_connections        {doc['max_connections']}{estimate}  = {DEFAULT_MAX_CONNECTIONS_FORMULA}",
        f"  reserved               {doc['reserved']}{' (ESTIMATE)' if doc['reserved_estimated'] else ''}  on {engine} {doc['engine_version']}, default parameter group",
    ]
    for r in doc["reserved_detail"]:
        estimate = f"; ESTIMATE: {r['note']}" if r["estimated"] else ""
        lines.append(f"    {r['parameter']} {r['value']}: for {r['holder']}{estimate}")
    lines.append(f"  usable                 {doc['usable']}  (ordinary application roles; the master user may open {doc['master_user_usable']})")
    lines.append("  deployments (orderable; on-demand USD/hour):")
    for deployment, item in doc["deployments"].items():
        orderable = {True: "orderable", False: "not offered", None: "unknown"}[item["orderable"]]
        usd = f"${item['price_usd_hour']:g}/hour" if item["price_usd_hour"] is not None else "no price known"
        lines.append(f"    {DEPLOYMENT_LABELS[deployment]:<22} {orderable:<12} {usd}")
    if doc["price_source"]:
        lines.append(f"    prices: {doc['price_source']}")
    if cls.orderable_source:
        lines.append(f"    orderable: {cls.orderable_source}")
    return "\n".join(lines)
