"""Deployment sources: Kubernetes manifests, Terraform plans and Compose files as a topology's numbers.

:mod:`~planner.topology.sources.base` holds what the readers share, each reader
(:mod:`~planner.topology.sources.kubernetes`, :mod:`~planner.topology.sources.terraform`,
:mod:`~planner.topology.sources.compose`) indexes its files, and
:mod:`~planner.topology.sources.resolve` merges what they say into a parsed topology before it is
validated. Readers are imported only when a topology names their kind.
"""
