"""Live systems, reasoned about: ``inspect`` and ``verify`` (PostgreSQL), ``observe`` (CloudWatch peaks),
``rds_import`` and ``merge`` (deployed RDS into a topology). The I/O itself is in :mod:`planner.adapters`."""
