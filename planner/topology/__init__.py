"""Reading a topology: the format readers, the value vocabulary, the rules per section, the writer.

The public API is :func:`load_topology` and :func:`parse_topology` (``load``); the pipeline below it:
``parse`` reads a file into plain values with lines (``read_yaml``, ``read_toml``, ``read_json``,
``parsed`` for what they share), ``values`` checks typed values and collects problems,
``databases``, ``services`` and ``poolers`` hold the rules of each section, ``writer`` writes a
topology back out, and ``edit`` writes a changed topology into the user's own file, changing only
the keys that differ and keeping comments and layout (``--apply-to-topology``). Deployment sources
(Kubernetes, Terraform, Compose) belong beside the readers.
"""

from planner.topology.load import POOL_DRIVERS, load_topology, parse_topology

__all__ = ["POOL_DRIVERS", "load_topology", "parse_topology"]
