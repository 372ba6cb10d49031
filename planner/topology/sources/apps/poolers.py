"""PgBouncer and Pgpool-II containers: which images they are, and where each image takes its settings.

A pooler in the deployment (spec §6.4) is recognised by its image. Each image family configures the
pooler its own way: ``edoburu/pgbouncer`` writes ``pgbouncer.ini`` from ``DEFAULT_POOL_SIZE`` and
friends, bitnami's images from ``PGBOUNCER_*``/``PGPOOL_*``, and any of them may instead be given a
mounted ``pgbouncer.ini`` or ``pgpool.conf``. :data:`IMAGES` holds one row per family, with the
documentation or entrypoint script it comes from; :func:`read_pooler` reads a container with it.
A setting nothing sets takes the pooler's own default (PgBouncer's ``default_pool_size`` 20,
``max_client_conn`` 100, ``pool_mode`` session; Pgpool-II's ``num_init_children`` 32, ``max_pool``
4), or the image's where the image changes it (bitnami's Pgpool-II: ``max_pool`` 15).
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field

from planner.topology.sources.apps.images import parse_image
from planner.topology.sources.base import Container, Fact, Origin, Unknown
from planner.topology.sources.redact import assignment, shown

PGBOUNCER_DOC = "https://www.pgbouncer.org/config.html"
PGPOOL_DOC = "https://www.pgpool.net/docs/latest/en/html/runtime-config-connection-pooling.html"
# The pooler's own defaults (the documentation pages above).
PGBOUNCER_DEFAULTS: dict[str, int | str] = {"default_pool_size": 20, "reserve_pool_size": 0, "max_client_conn": 100,
                                            "max_db_connections": 0, "pool_mode": "session"}
PGPOOL_DEFAULTS: dict[str, int | str] = {"num_init_children": 32, "max_pool": 4}


@dataclass(frozen=True)
class PoolerImage:
    """One family of pooler images: its settings' variables, config file and backend."""

    kind: str  # "pgbouncer" or "pgpool"
    image: re.Pattern[str]  # matched against the image's repository (parse_image: no registry, tag), e.g. "edoburu/pgbouncer"
    variables: dict[str, tuple[str, ...]]  # topology key -> the variables that set it
    defaults: dict[str, int | str] = field(default_factory=dict)  # the image's own, where it changes the pooler's
    config_files: tuple[str, ...] = ()  # where the image reads its configuration file
    backend: tuple[str, ...] = ()  # variables naming the database host it connects to
    doc: str = ""


def _upper(prefix: str, keys: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {key: (prefix + key.upper(),) for key in keys}


_POOL_MODES = ("session", "transaction", "statement")
_BOUNCER_KEYS = ("default_pool_size", "reserve_pool_size", "max_client_conn", "max_db_connections", "pool_mode")

IMAGES: tuple[PoolerImage, ...] = (
    PoolerImage("pgbouncer", re.compile(r"(?:.*/)?bitnami/pgbouncer"), _upper("PGBOUNCER_", _BOUNCER_KEYS),
                config_files=("/opt/bitnami/pgbouncer/conf/pgbouncer.ini", "/bitnami/pgbouncer/conf/pgbouncer.ini"),
                backend=("POSTGRESQL_HOST",),
                doc="https://github.com/bitnami/containers/blob/main/bitnami/pgbouncer/README.md"),
    PoolerImage("pgbouncer", re.compile(r"(?:.*/)?edoburu/pgbouncer"), _upper("", _BOUNCER_KEYS),
                config_files=("/etc/pgbouncer/pgbouncer.ini",), backend=("DB_HOST", "DATABASE_URL"),
                doc="https://github.com/edoburu/docker-pgbouncer/blob/master/entrypoint.sh"),
    PoolerImage("pgbouncer", re.compile(r"(?:.*/)?pgbouncer/pgbouncer"), _upper("PGBOUNCER_", _BOUNCER_KEYS),
                config_files=("/etc/pgbouncer/pgbouncer.ini",), backend=("DATABASES_HOST",),
                doc="https://hub.docker.com/r/pgbouncer/pgbouncer"),
    PoolerImage("pgpool", re.compile(r"(?:.*/)?bitnami/pgpool(?:-ii)?"),
                {"num_init_children": ("PGPOOL_NUM_INIT_CHILDREN",), "max_pool": ("PGPOOL_MAX_POOL",)},
                defaults={"max_pool": 15},
                config_files=("/opt/bitnami/pgpool/conf/pgpool.conf", "/config/pgpool.conf"),
                backend=("PGPOOL_BACKEND_NODES",),
                doc="https://github.com/bitnami/containers/blob/main/bitnami/pgpool/4/debian-12/rootfs/opt/bitnami/scripts/pgpool-env.sh "
                    "(PGPOOL_MAX_POOL default 15)"),
    PoolerImage("pgpool", re.compile(r"(?:.*/)?pgpool/pgpool"),
                {"num_init_children": ("PGPOOL_PARAMS_NUM_INIT_CHILDREN",), "max_pool": ("PGPOOL_PARAMS_MAX_POOL",)},
                config_files=("/config/pgpool.conf", "/usr/local/pgpool-II/etc/pgpool.conf", "/etc/pgpool-II/pgpool.conf"),
                backend=("PGPOOL_PARAMS_BACKEND_HOSTNAME0",),
                doc="https://github.com/pgpool/pgpool2_on_k8s#configuration"),
    # Any other image whose name says PgBouncer or Pgpool-II: only a mounted configuration file tells
    PoolerImage("pgbouncer", re.compile(r".*pgbouncer.*"), {}, config_files=("/etc/pgbouncer/pgbouncer.ini",), doc=PGBOUNCER_DOC),
    PoolerImage("pgpool", re.compile(r".*pgpool.*"), {}, config_files=("/etc/pgpool-II/pgpool.conf", "/etc/pgpool2/pgpool.conf"),
                doc=PGPOOL_DOC),
)


@dataclass
class PoolerReading:
    """What a pooler container says: its kind, its settings (with origins) and the hosts it connects to."""

    kind: str
    values: dict[str, Fact | Unknown] = field(default_factory=dict)
    defaults: dict[str, Fact] = field(default_factory=dict)
    backend_hosts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pooler_image(image: str | None) -> PoolerImage | None:
    """Return the pooler image family ``image`` belongs to, if it runs PgBouncer or Pgpool-II."""
    if not image:
        return None
    name = parse_image(image).repository
    return next((row for row in IMAGES if row.image.fullmatch(name)), None)


def read_pooler(container: Container) -> PoolerReading | None:
    """Return what a PgBouncer or Pgpool-II container configures, or None if it runs neither."""
    row = pooler_image(container.image)
    if row is None:
        return None
    reading = PoolerReading(row.kind)
    config = _config(container, row)
    for key in (_BOUNCER_KEYS if row.kind == "pgbouncer" else tuple(PGPOOL_DEFAULTS)):
        value = _variable(container, row.variables.get(key, ()))
        if value is None and config is not None:
            value = _from_config(config, key, row)
        if value is not None:
            reading.values[key] = value
            continue
        default = row.defaults.get(key, (PGBOUNCER_DEFAULTS if row.kind == "pgbouncer" else PGPOOL_DEFAULTS)[key])
        whose = row.doc if key in row.defaults else (PGBOUNCER_DOC if row.kind == "pgbouncer" else PGPOOL_DOC)
        reading.defaults[key] = Fact(default, Origin(f"default of {_name(row)}", whose, None, key))
    reading.backend_hosts = _backends(container, row, config)
    if row.kind == "pgbouncer":
        reading.notes.append("each (database, user) pair has its own pool: planner counts one pair unless the topology "
                             "says pairs: N")
    return reading


def _name(row: PoolerImage) -> str:
    return "PgBouncer" if row.kind == "pgbouncer" else "Pgpool-II"


def _variable(container: Container, names: tuple[str, ...]) -> Fact | Unknown | None:
    for name in names:
        value = container.env.get(name)
        if isinstance(value, Unknown):
            return value
        if isinstance(value, Fact) and str(value.value).strip() != "":  # the images treat "" as unset
            text = str(value.value).strip()
            # a pool mode is shown, a number too; anything else is not (a number was expected)
            said = f"{name} = {shown(name, text)}" if text.lower() in _POOL_MODES else assignment(name, text)
            origin = Origin(f"{said} ← {value.origin.what}", value.origin.file, value.origin.line, value.origin.field)
            return Fact(int(text) if text.isdigit() else text, origin)
    return None


def _config(container: Container, row: PoolerImage) -> tuple[str, Fact] | Unknown | None:
    """Return the mounted configuration file (path, text) the image reads, if one is mounted."""
    for path in row.config_files:
        mounted = container.files.get(path)
        if isinstance(mounted, Unknown):
            return mounted
        if mounted is not None:
            return path, mounted
    return None


def _from_config(config: tuple[str, Fact] | Unknown, key: str, row: PoolerImage) -> Fact | Unknown | None:
    if isinstance(config, Unknown):
        return Unknown(config.origin, f"mounts the {_name(row)} configuration that sets {key}, and {config.reason}")
    path, text = config
    values, lines = _settings(str(text.value), row.kind)
    if key not in values:
        return None
    raw = values[key]
    origin = Origin(f"{path} {key} = {raw}", text.origin.file, lines.get(key), None)
    return Fact(int(raw) if raw.isdigit() else raw, origin)


def _settings(text: str, kind: str) -> tuple[dict[str, str], dict[str, int]]:
    """Return the settings of a pgbouncer.ini (its [pgbouncer] section) or a pgpool.conf, and their lines."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    if kind == "pgbouncer":
        parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True,
                                           inline_comment_prefixes=(";", "#"))
        try:
            parser.read_string(text)
        except configparser.Error:
            return values, lines
        if parser.has_section("pgbouncer"):
            values = {k: (v or "").strip() for k, v in parser.items("pgbouncer")}
    else:
        for line in text.splitlines():
            match = re.match(r"\s*([a-z_0-9]+)\s*=\s*'?([^'#]*)'?", line)
            if match:
                values[match.group(1)] = match.group(2).strip()
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"\s*([a-z_0-9]+)\s*=", line)
        if match and match.group(1) in values:
            lines[match.group(1)] = number
    return values, lines


def _backends(container: Container, row: PoolerImage, config: tuple[str, Fact] | Unknown | None) -> list[str]:
    """Return the hosts the pooler connects to (from its variables, or its [databases] section)."""
    hosts: list[str] = []
    for name in row.backend:
        value = container.env.get(name)
        if isinstance(value, Fact):
            text = str(value.value)
            if "://" in text:
                host = re.sub(r"^[a-z+]+://(?:[^@/]*@)?", "", text).split("/")[0].split(":")[0]
                hosts.append(host)
            else:  # PGPOOL_BACKEND_NODES=0:pg-0:5432,1:pg-1:5432
                for node in re.split(r"[,;]", text):
                    parts = node.split(":")
                    hosts.append(parts[1] if len(parts) >= 2 and parts[0].isdigit() else parts[0])
    if isinstance(config, tuple) and row.kind == "pgbouncer":
        parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True)
        try:
            parser.read_string(str(config[1].value))
        except configparser.Error:
            return hosts
        if parser.has_section("databases"):
            for _, dsn in parser.items("databases"):
                match = re.search(r"host=([^\s]+)", dsn or "")
                if match:
                    hosts.append(match.group(1))
    return [h for h in hosts if h]
