"""The frameworks and drivers whose connection pools planner recognises in a container, with their defaults.

One :class:`Framework` per pool: what in a container shows it (a variable only it reads, the scheme
of a database URL, the program that runs, the image), the topology ``pool`` driver it is, and where
its size and overflow are set (variables, a database URL's query, defaults), each with the
documentation that says so. :mod:`.recognise` reads this table; a framework it does not find here
is not guessed: the service's pool is then the user's to write (``check`` exits 2 naming it).

The order matters: the first framework whose evidence a container shows is the one it runs.
Specific evidence (a variable only one framework reads) comes before general evidence (a program
that many frameworks run under).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from planner.topology.sources.apps.servers import HOST_CPUS


@dataclass(frozen=True)
class Number:
    """Where one pool number is set: variables (the first set wins), a database URL's query key, a default."""

    variables: tuple[str, ...] = ()
    url_query: str | None = None  # a key of the database URL's query string (`?pool=10`)
    default: int | str | None = None  # an int, "threads" (one per thread), HOST_CPUS, or None: not known
    doc: str = ""


@dataclass(frozen=True)
class Framework:
    """A connection pool planner can size, and what in a container shows it runs."""

    name: str  # as users know it: "SQLAlchemy", "Active Record (Rails)"
    driver: str  # the topology's pool driver
    size: Number
    max_overflow: Number = Number(default=0)
    variables: tuple[str, ...] = ()  # regular expressions; any variable matching one is evidence
    url_schemes: tuple[str, ...] = ()  # regular expressions on a variable's value
    programs: tuple[str, ...] = ()  # programs (or python scripts' names) that only this framework runs
    languages: tuple[str, ...] = ()  # the app server's language must be one of these (empty: any)
    needs_postgres: bool = True  # the evidence alone does not say PostgreSQL: a postgres URL must also be there
    doc: str = ""


SQLALCHEMY_DOC = "https://docs.sqlalchemy.org/en/20/core/pooling.html#sqlalchemy.pool.QueuePool"

FRAMEWORKS: tuple[Framework, ...] = (
    Framework(
        "Agroal (Quarkus)", "custom",
        Number(("QUARKUS_DATASOURCE_JDBC_MAX_SIZE",), None, 20,
               "https://quarkus.io/guides/datasource#quarkus-agroal_quarkus-datasource-jdbc-max-size (default 20)"),
        variables=(r"QUARKUS_DATASOURCE_.*",),
        doc="https://quarkus.io/guides/datasource",
    ),
    Framework(
        "HikariCP (Spring Boot)", "hikari",
        Number(("SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE", "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"), None, 10,
               "https://github.com/brettwooldridge/HikariCP#gear-configuration-knobs-baby (maximumPoolSize: 10)"),
        variables=(r"SPRING_DATASOURCE_.*", r"SPRING_R2DBC_.*"),
        url_schemes=(r"jdbc:postgresql:",),
        needs_postgres=True,
        doc="https://docs.spring.io/spring-boot/reference/data/sql.html#data.sql.datasource.connection-pool",
    ),
    Framework(
        "Django", "django",
        Number((), None, "threads", "https://docs.djangoproject.com/en/stable/ref/databases/#persistent-connections "
               "(one connection per thread)"),
        variables=(r"DJANGO_SETTINGS_MODULE",),
        programs=("manage.py", "django-admin"),
        languages=("python",),
        doc="https://docs.djangoproject.com/en/stable/ref/databases/#connection-management",
    ),
    Framework(
        "SQLAlchemy", "sqlalchemy",
        Number(("SQLALCHEMY_POOL_SIZE", "DB_POOL_SIZE", "DATABASE_POOL_SIZE"), None, 5, SQLALCHEMY_DOC + " (pool_size 5)"),
        Number(("SQLALCHEMY_MAX_OVERFLOW", "DB_MAX_OVERFLOW", "DATABASE_MAX_OVERFLOW"), None, 10,
               SQLALCHEMY_DOC + " (max_overflow 10)"),
        variables=(r"SQLALCHEMY_DATABASE_UR[IL]", r".*SQL_ALCHEMY_CONN"),
        # SQLAlchemy's own URL form names the DBAPI driver: postgresql+psycopg2://, postgresql+asyncpg://
        url_schemes=(r"postgres(?:ql)?\+[a-z0-9_]+://",),
        languages=("python",),
        doc="https://docs.sqlalchemy.org/en/20/core/pooling.html",
    ),
    Framework(
        "Prisma", "custom",
        Number((), "connection_limit", HOST_CPUS,
               "https://www.prisma.io/docs/orm/prisma-client/setup-and-configuration/databases-connections/connection-pool "
               "(num_physical_cpus * 2 + 1 unless connection_limit is set)"),
        programs=("prisma",),
        languages=("node",),
        doc="https://www.prisma.io/docs/orm/prisma-client/setup-and-configuration/databases-connections/connection-pool",
    ),
    Framework(
        "Active Record (Rails)", "rails",
        # Rails' generated config/database.yml: pool: <%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>;
        # DB_POOL is Heroku's documented name for it; a DATABASE_URL's ?pool=N wins over both.
        Number(("DB_POOL", "RAILS_MAX_THREADS"), "pool", 5,
               "https://guides.rubyonrails.org/configuring.html#database-pooling (generated database.yml: "
               "RAILS_MAX_THREADS, default 5; a DATABASE_URL ?pool= wins)"),
        variables=(r"RAILS_ENV",),
        programs=("rails",),
        languages=("ruby",),
        doc="https://guides.rubyonrails.org/configuring.html#database-pooling",
    ),
)

POSTGRES_URL = re.compile(r"(?:jdbc:)?postgres(?:ql)?(?:\+[a-z0-9_]+)?://", re.I)


def framework_named(driver_or_name: str) -> Framework | None:
    """Return the framework a name or driver stands for."""
    for framework in FRAMEWORKS:
        if driver_or_name in (framework.name, framework.driver):
            return framework
    return None
