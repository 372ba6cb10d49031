"""The review: what a change to a topology does to every budget (``diff``), as data (``changes``)."""
