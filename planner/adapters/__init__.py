"""Adapters to the outside world: the only modules that run other programs or open connections.

Each adapter turns the outside system's failures into :class:`planner.errors.PlannerError`
subclasses with a hint, so the CLI can print one line and exit with the right code.
"""
