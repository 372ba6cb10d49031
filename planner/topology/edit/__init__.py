"""Edit a topology file in place: change only the keys a changed topology needs, keep everything else.

``editor`` finds what changed and drives the edit; ``documents`` and ``yaml_document`` hold the file
in each format's round-trip library; ``lines`` keeps the user's own lines where the edit left them.
"""

from planner.topology.edit.editor import EditBug, edit_topology, same_topology

__all__ = ["EditBug", "edit_topology", "same_topology"]
