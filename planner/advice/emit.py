"""Artefacts that implement a recommended option: pgbouncer.ini, AWS CLI and Terraform, pool settings
(:mod:`planner.advice.pool_artefacts`).

Each ``emit_*`` function takes an :class:`Option` (its changed topology holds the numbers) and
returns ``{file name: content}``; the CLI writes them. No secret is ever written: the PgBouncer
userlist and the proxy's secret are placeholders the user fills in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from planner.advice.pool_artefacts import emit_pools
from planner.advice.recommend import Option
from planner.errors import InputError
from planner.model import Pooler
from planner.reserves import parse_engine_version

# Which option kinds carry each artefact, best first as ranked by `recommend`.
EMIT_KINDS: dict[str, tuple[str, ...]] = {
    "pgbouncer": ("pgbouncer", "client-limit", "pooler-replicas", "pooler-pool", "pool-everything", "resize+pgbouncer",
                  "resize+pool-everything"),
    "proxy": ("rds-proxy", "proxy-percent", "pool-everything", "resize+rds-proxy", "resize+pool-everything"),
    "parameters": ("parameter",),
    "pools": ("pools-to-concurrency", "shrink-pools", "resize+shrink-pools"),
}


# Options that change a PgBouncer the topology already has (its own settings), not a new one.
EXISTING_PGBOUNCER_KINDS = ("client-limit", "pooler-replicas", "pooler-pool")


@dataclass(frozen=True)
class Connection:
    """Where PgBouncer reaches the database (placeholders by default)."""

    host: str = "CHANGE-ME.cluster-xxxx.us-east-1.rds.amazonaws.com"
    port: int = 5432
    dbname: str | None = None  # default: the topology's database name
    listen_addr: str = "0.0.0.0"
    listen_port: int = 6432


def _ident(text: str) -> str:
    """Return ``text`` as a safe identifier for Terraform names and AWS resource names."""
    return re.sub(r"[^A-Za-z0-9-]", "-", text).strip("-").lower() or "planner"


def _poolers_of(option: Option, kind: str) -> list[Pooler]:
    """Return the option's poolers of ``kind``: the ones it names, else any on its database."""
    poolers = option.topology.poolers
    names = option.details.get("poolers") or [option.details.get("pooler")]
    named = [poolers[n] for n in names if n in poolers and poolers[n].kind == kind]
    return named or [p for p in poolers.values() if p.kind == kind and p.database == option.database]


def emit_pgbouncer(option: Option, connection: Connection = Connection()) -> dict[str, str]:
    """Return ``pgbouncer.ini`` and a ``userlist.txt`` placeholder for the option's PgBouncer."""
    poolers = _poolers_of(option, "pgbouncer")
    if not poolers:
        raise InputError(f"option '{option.title}' has no PgBouncer to emit")
    pooler = poolers[0]
    alias = option.database
    dbname = connection.dbname or option.database
    server_cap = pooler.pairs * (pooler.default_pool_size + pooler.reserve_pool_size)
    clients = ", ".join(pooler.clients)
    replicas = (f"Each of the {pooler.replicas} PgBouncer replicas runs this file and keeps its own server pool"
                if pooler.replicas > 1 else "The PgBouncer runs this file")
    point = (f"{pooler.name} is already there: change the settings this option names, keep the rest of your file"
             if option.kind in EXISTING_PGBOUNCER_KINDS else
             f"Point them at this PgBouncer (port {connection.listen_port}) instead of the database")
    ini = f"""\
;; pgbouncer.ini written by planner for {option.topology.name}: {option.title}
;; {replicas}:
;; {pooler.replicas} × {server_cap} = {pooler.replicas * server_cap} server connections on {option.database}.
;; Clients: {clients}. {point}.

[databases]
{alias} = host={connection.host} port={connection.port} dbname={dbname}

[pgbouncer]
listen_addr = {connection.listen_addr}
listen_port = {connection.listen_port}
auth_type = scram-sha-256
auth_file = userlist.txt
pool_mode = {pooler.pool_mode}
default_pool_size = {pooler.default_pool_size}
reserve_pool_size = {pooler.reserve_pool_size}
max_db_connections = {server_cap}
max_client_conn = {pooler.max_client_conn}
;; Clients beyond the server pool wait in PgBouncer's queue for up to query_wait_timeout seconds.
query_wait_timeout = 120
server_idle_timeout = 600
;; Drivers send these on connect; PgBouncer refuses unknown startup parameters unless told to ignore them.
ignore_startup_parameters = extra_float_digits,options
;; PgBouncer 1.21 and later keep protocol-level prepared statements working in transaction mode:
;; max_prepared_statements = 200
"""
    userlist = (
        ";; userlist.txt: one line per role PgBouncer may log in as. planner never writes a password.\n"
        ";; Put the role's SCRAM secret here (SELECT rolpassword FROM pg_authid WHERE rolname = 'app'),\n"
        ";; or use auth_query with an auth_user instead of this file.\n"
        '"app" "SCRAM-SHA-256$<iterations>:<salt>$<storedkey>:<serverkey>"\n'
    )
    return {"pgbouncer.ini": ini, "userlist.txt": userlist}


def parameter_group_family(engine: str, engine_version: str) -> str:
    """Return the DB parameter group family RDS uses for ``engine`` at ``engine_version``.

    RDS spells the families by release series: ``postgres9.3`` … ``postgres9.6``, then one per major
    from 10 (``postgres10`` … ``postgres18``), and ``aurora-postgresql9.6``, ``aurora-postgresql10`` …
    for Aurora (``aws rds describe-db-engine-versions --query "DBEngineVersions[].DBParameterGroupFamily"``;
    the list the test holds it to is in tests/advice/test_emit.py, with its sources). Before 10 a
    series is two numbers, so ``9.6.24`` is ``postgres9.6`` and a bare ``9`` names no family.
    """
    version = parse_engine_version(engine_version)
    if version.major < 10:
        parts = engine_version.strip().split(".")
        if len(parts) < 2 or not parts[1].isdigit():
            raise InputError(f"engine_version {engine_version!r} names no parameter group family: before PostgreSQL 10 "
                             'RDS has one per release series (postgres9.3 … postgres9.6); write the series, e.g. "9.6"')
        series = f"{version.major}.{parts[1]}"
    else:
        series = str(version.major)
    prefix = "aurora-postgresql" if engine == "aurora-postgresql" else "postgres"
    return f"{prefix}{series}"


def emit_parameters(option: Option) -> dict[str, str]:
    """Return the AWS CLI script and Terraform fragment for the raised max_connections."""
    value = option.details.get("max_connections")
    if value is None:
        raise InputError(f"option '{option.title}' sets no parameter")
    db = option.topology.databases[option.database]
    family = parameter_group_family(db.engine, db.engine_version)
    name = _ident(f"{option.topology.name}-{option.database}-connections")
    cluster = db.engine == "aurora-postgresql"
    # Aurora takes max_connections in the DB (instance) parameter group as well; the instance group is
    # the one that can differ per instance, so planner writes that one for both engines.
    cli = f"""\
#!/usr/bin/env sh
# Written by planner for {option.topology.name}: {option.title}
# max_connections is static: it applies after a reboot (ApplyMethod=pending-reboot).
set -eu
aws rds create-db-parameter-group \\
  --db-parameter-group-name {name} \\
  --db-parameter-group-family {family} \\
  --description "planner: max_connections {value} for {option.database}"
aws rds modify-db-parameter-group \\
  --db-parameter-group-name {name} \\
  --parameters "ParameterName=max_connections,ParameterValue={value},ApplyMethod=pending-reboot"
# Attach it to the instance{'s of the cluster' if cluster else ''} and reboot in a maintenance window:
aws rds modify-db-instance --db-instance-identifier CHANGE-ME --db-parameter-group-name {name} --apply-immediately
aws rds reboot-db-instance --db-instance-identifier CHANGE-ME
"""
    terraform = f"""\
# Written by planner for {option.topology.name}: {option.title}
resource "aws_db_parameter_group" "{name.replace('-', '_')}" {{
  name   = "{name}"
  family = "{family}"

  parameter {{
    name         = "max_connections"
    value        = "{value}"
    apply_method = "pending-reboot" # static parameter: needs a reboot
  }}
}}
"""
    return {"parameters.sh": cli, "parameters.tf": terraform}


def emit_proxy(option: Option) -> dict[str, str]:
    """Return the AWS CLI script and Terraform fragment for the option's RDS Proxy: a new proxy, or for an
    option that changes a proxy already there (``proxy-percent``), only the change to its target group."""
    poolers = _poolers_of(option, "rds-proxy")
    if not poolers:
        raise InputError(f"option '{option.title}' has no RDS Proxy to emit")
    proxy = poolers[0]
    db = option.topology.databases[option.database]
    name = _ident(f"{option.topology.name}-{proxy.name}")
    percent = proxy.max_connections_percent
    if option.kind == EXISTING_PROXY_KIND:
        return _proxy_change(option, proxy.name, percent)
    cluster = db.engine == "aurora-postgresql"
    target = "--db-cluster-identifiers CHANGE-ME" if cluster else "--db-instance-identifiers CHANGE-ME"
    cli = f"""\
#!/usr/bin/env sh
# Written by planner for {option.topology.name}: {option.title}
# The secret holds the database credentials; planner never writes them. Create it first:
#   aws secretsmanager create-secret --name {name}-credentials --secret-string '{{"username":"app","password":"..."}}'
set -eu
aws rds create-db-proxy \\
  --db-proxy-name {name} \\
  --engine-family POSTGRESQL \\
  --auth '[{{"AuthScheme":"SECRETS","SecretArn":"arn:aws:secretsmanager:REGION:ACCOUNT:secret:{name}-credentials","IAMAuth":"REQUIRED"}}]' \\
  --role-arn arn:aws:iam::ACCOUNT:role/CHANGE-ME-proxy-role \\
  --vpc-subnet-ids subnet-CHANGE-ME-a subnet-CHANGE-ME-b
aws rds register-db-proxy-targets --db-proxy-name {name} {target}
aws rds modify-db-proxy-target-group \\
  --db-proxy-name {name} --target-group-name default \\
  --connection-pool-config MaxConnectionsPercent={percent}
"""
    target_block = (
        '  db_cluster_identifier = "CHANGE-ME"' if cluster else '  db_instance_identifier = "CHANGE-ME"'
    )
    terraform = f"""\
# Written by planner for {option.topology.name}: {option.title}
resource "aws_db_proxy" "{name.replace('-', '_')}" {{
  name           = "{name}"
  engine_family  = "POSTGRESQL"
  role_arn       = "arn:aws:iam::ACCOUNT:role/CHANGE-ME-proxy-role"
  vpc_subnet_ids = ["subnet-CHANGE-ME-a", "subnet-CHANGE-ME-b"]
  require_tls    = true

  auth {{
    auth_scheme = "SECRETS"
    iam_auth    = "REQUIRED"
    secret_arn  = "arn:aws:secretsmanager:REGION:ACCOUNT:secret:{name}-credentials" # no password here
  }}
}}

resource "aws_db_proxy_default_target_group" "{name.replace('-', '_')}" {{
  db_proxy_name = aws_db_proxy.{name.replace('-', '_')}.name

  connection_pool_config {{
    max_connections_percent = {percent} # of max_connections on the target
  }}
}}

resource "aws_db_proxy_target" "{name.replace('-', '_')}" {{
  db_proxy_name     = aws_db_proxy.{name.replace('-', '_')}.name
  target_group_name = aws_db_proxy_default_target_group.{name.replace('-', '_')}.name
{target_block}
}}
"""
    return {"rds-proxy.sh": cli, "rds-proxy.tf": terraform}


EXISTING_PROXY_KIND = "proxy-percent"  # the option changes a proxy the topology already has


def _proxy_change(option: Option, proxy: str, percent: int) -> dict[str, str]:
    """Return the CLI call and the Terraform attribute that set an existing proxy's max_connections_percent."""
    cli = f"""\
#!/usr/bin/env sh
# Written by planner for {option.topology.name}: {option.title}
# {proxy} already exists: this changes its default target group only (no new proxy, no new secret).
# Use the proxy's name in AWS if it differs from the topology's.
set -eu
aws rds modify-db-proxy-target-group \\
  --db-proxy-name {proxy} --target-group-name default \\
  --connection-pool-config MaxConnectionsPercent={percent}
"""
    terraform = f"""\
# Written by planner for {option.topology.name}: {option.title}
# In the aws_db_proxy_default_target_group of {proxy}, change one attribute:
  connection_pool_config {{
    max_connections_percent = {percent} # of max_connections on the target
  }}
"""
    return {"rds-proxy-change.sh": cli, "rds-proxy-change.tf": terraform}


EMITTERS = {"pgbouncer": emit_pgbouncer, "parameters": emit_parameters, "proxy": emit_proxy, "pools": emit_pools}
