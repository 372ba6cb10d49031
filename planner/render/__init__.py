"""Renderers: turn a computed report into text, JSON, Markdown or GitHub annotations.

Each renderer returns a string; the CLI decides where it goes. None of them computes a number:
they read :class:`planner.budget.BudgetReport` and the dictionaries of :mod:`.data`.
"""
