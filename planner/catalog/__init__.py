"""The instance-class catalogue: what each RDS class is, where it runs, what it costs, its memory.

``load`` reads the catalogue CSV (the bundled one by default) into a :class:`Catalog`, with the
user's ``SHOW max_connections`` readings over it; ``columns`` is the CSV format and its one writer;
``estimate`` evaluates the DBInstanceClassMemory rules and ``calibration`` fits them on readings;
``refresh`` rebuilds the catalogue from what AWS says (through an adapter it is handed).
"""

from planner.catalog.columns import COLUMNS, catalog_csv
from planner.catalog.load import (
    DBICM_DIVISOR,
    MAX_CONNECTIONS_CAP,
    Catalog,
    CatalogLookupError,
    dbicm_from_observation,
    default_max_connections,
    load_catalog,
)

__all__ = [
    "COLUMNS",
    "DBICM_DIVISOR",
    "MAX_CONNECTIONS_CAP",
    "Catalog",
    "CatalogLookupError",
    "catalog_csv",
    "dbicm_from_observation",
    "default_max_connections",
    "load_catalog",
]
