"""Pools larger than the concurrency that can use them (spec §2, v1.2): which, by how much, and the pool held to it.

A thread-per-request process (gunicorn or Puma threads, a Celery prefork worker, a servlet thread,
a Lambda execution environment) holds at most one connection per request it serves at once, so a
pool of ``size + max_overflow`` above that concurrency is never filled by requests. planner still
counts it at its size (a leak, a background thread or a stuck checkout can reach it: the budget must
hold what the pool can open); the ``pool-above-concurrency`` warning says so with both numbers, and
``planner recommend`` offers holding each pool to its concurrency first, at no cost.

Asynchronous drivers (node-pg, asyncpg) and Go pools (pgxpool, database/sql) serve many requests
per thread: their pool is the concurrency, so they are left out; ``django`` and ``per-thread`` open
one connection per thread by definition, and an unbounded pool has no size to compare.
"""

from __future__ import annotations

from dataclasses import replace

from planner.model import Pool, Service

# Drivers whose pool serves one request per thread (docs/topology.md, Warnings): the library, and
# why a request holds one connection. A pool given by its numbers alone ("custom") counts with them.
THREAD_PER_REQUEST: dict[str, str] = {
    "sqlalchemy": "a QueuePool per process; each request checks out one connection on its thread",
    "rails": "Active Record's pool per process; each Puma/Sidekiq thread checks out one connection",
    "hikari": "HikariCP per JVM; each servlet thread holds one connection per request",
    "psycopg-pool": "a ConnectionPool per process; each request thread gets one connection",
    "django-pool": "Django's psycopg pool per process; each request thread uses one connection",
    "custom": "a pool by its numbers alone, taken as one connection per request thread",
}
LAMBDA_CONCURRENCY = 1  # a Lambda execution environment serves one invocation at a time


def concurrency(service: Service) -> int | None:
    """Return how many requests one process of ``service`` serves at once (None: the rule does not apply).

    Threads for a long-running process, 1 for a Lambda execution environment; None for a fixed
    service, an unbounded pool, or a driver that is not thread-per-request.
    """
    pool = service.pool
    if pool is None or pool.unbounded or pool.driver not in THREAD_PER_REQUEST:
        return None
    if service.shape == "long-running":
        return service.threads
    if service.shape == "lambda":
        return LAMBDA_CONCURRENCY
    return None


def above_concurrency(service: Service) -> bool:
    """Return whether the service's pool (``size + max_overflow`` per process) is above its concurrency."""
    held = concurrency(service)
    return held is not None and service.pool is not None and service.pool.worst > held


def held_to_concurrency(service: Service) -> Service:
    """Return ``service`` with its pool held to its concurrency: ``max_overflow`` lowered so that
    ``size + max_overflow`` is the concurrency, or ``size`` lowered (overflow 0) if size alone is above it.

    A service whose pool is not above its concurrency is returned as it is.
    """
    held = concurrency(service)
    pool = service.pool
    if held is None or pool is None or pool.size is None or pool.worst <= held:
        return service
    if pool.size <= held:
        size, overflow = pool.size, held - pool.size
    else:
        size, overflow = held, 0
    # a growing pool (min_size < max_size) keeps its floor, capped; at the cap it is a fixed pool
    minimum = None if pool.min_size is None or min(pool.min_size, size) >= size else pool.min_size
    return replace(service, pool=Pool(pool.driver, size, overflow, minimum))


__all__ = ["LAMBDA_CONCURRENCY", "THREAD_PER_REQUEST", "above_concurrency", "concurrency", "held_to_concurrency"]
