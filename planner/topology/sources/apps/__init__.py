"""What the software in a container opens: app servers, frameworks, poolers, and who talks to the database.

The deployment readers describe each workload as neutral
:class:`~planner.topology.sources.base.Container`\\ s (image, command line, environment, CPU limit,
mounted files). This package reads them as the software in them reads itself, from tables of what
that software does (:mod:`.servers`, :mod:`.frameworks`), so that a new app server or framework is a
row and a test, whichever deployment format it is written in:

- :mod:`.command` unwraps a command line to the programs it starts;
- :mod:`.recognise` reads an app server's processes and threads and a framework's pool;
- :mod:`.configs` reads numbers out of app servers' configuration files without running them.
"""

from planner.topology.sources.apps.recognise import Reading, read_container

__all__ = ["Reading", "read_container"]
