"""The default max_connections formula and what a reading of it says about DBInstanceClassMemory.

RDS sets ``max_connections`` to ``LEAST({DBInstanceClassMemory/9531392},5000)``, so a default value
``n < 5000`` pins DBInstanceClassMemory to ``[n × 9531392, (n+1) × 9531392)``; 5000 only says it is
at least ``5000 × 9531392``.
"""

from __future__ import annotations

DBICM_DIVISOR = 9531392  # bytes per connection in LEAST({DBInstanceClassMemory/9531392},5000)
MAX_CONNECTIONS_CAP = 5000


def dbicm_from_observation(max_connections: int) -> int:
    """Return the DBInstanceClassMemory we store for an observed default ``max_connections``.

    Below the cap, the middle of the interval the observation pins, so the default formula gives
    back exactly ``max_connections``. At the cap (5000) the observation is only a lower bound and
    this returns that bound, ``5000 × 9531392``.
    """
    if isinstance(max_connections, bool) or not isinstance(max_connections, int):
        raise TypeError(f"max_connections must be an int, not {type(max_connections).__name__}")
    if not 1 <= max_connections <= MAX_CONNECTIONS_CAP:
        raise ValueError(f"a default max_connections is between 1 and {MAX_CONNECTIONS_CAP}, not {max_connections}")
    if max_connections == MAX_CONNECTIONS_CAP:
        return MAX_CONNECTIONS_CAP * DBICM_DIVISOR
    return max_connections * DBICM_DIVISOR + DBICM_DIVISOR // 2


def default_max_connections(dbicm_bytes: int) -> int:
    """``LEAST({DBInstanceClassMemory/9531392},5000)`` with RDS's truncating division."""
    return min(dbicm_bytes // DBICM_DIVISOR, MAX_CONNECTIONS_CAP)



__all__ = ["DBICM_DIVISOR", "MAX_CONNECTIONS_CAP", "dbicm_from_observation", "default_max_connections"]
