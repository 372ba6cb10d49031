"""The app servers planner recognises on a command line, and where each takes its numbers from.

One :class:`Server` per app server, one :class:`Setting` per number it takes: the flags that set it,
the environment variables it reads when no flag does, the keys of its configuration file, and its
own default, each with the documentation (or source line) that says so. :mod:`.recognise` reads
this table; adding a server is a row here and a test, not a branch in a reader.

The keys are the topology's: ``processes`` (worker processes per container), ``threads``
(requests or jobs one process serves at once: its threads, greenlets or fibres), and, for servers
that size a framework's pool themselves, nothing else. Pools belong to the frameworks
(:mod:`.frameworks`).

The precedence is each server's own, and the same for all of these: a flag on the command line,
then the server's arguments variable (``GUNICORN_CMD_ARGS``), then its configuration file, then the
variables it reads for a default, then its built-in default.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a default that depends on the host is called in the table: the number of CPUs of the node,
# which no deployment file states (a CPU limit does not change what os.cpu_count() returns).
HOST_CPUS = "host-cpus"


@dataclass(frozen=True)
class Setting:
    """One number an app server takes, and every place it may be set."""

    key: str  # the topology key it gives: "processes" or "threads"
    flags: tuple[str, ...] = ()  # "-w", "--workers": "-w 4", "-w4", "--workers=4"
    variables: tuple[str, ...] = ()  # read for the default when no flag or config sets it; the first set wins
    config: tuple[str, ...] = ()  # the names in the server's configuration file
    default: int | str | None = None  # its own default; HOST_CPUS: one per CPU of the host
    form: str = "int"  # "int", or "range" for "min:max"/"max,min" (the largest is the ceiling)
    doc: str = ""  # where the default and the variables are documented


@dataclass(frozen=True)
class Server:
    """An app server: how a command line names it and the numbers it takes."""

    name: str
    programs: tuple[str, ...]  # program names (and python -m modules) that start it
    settings: tuple[Setting, ...]
    doc: str
    subcommands: tuple[str, ...] = ()  # one must be among the arguments ("worker" for celery)
    args_variable: str | None = None  # a variable holding more command-line flags
    env_prefix: str | None = None  # every option may be set as PREFIX + OPTION (uWSGI: UWSGI_PROCESSES)
    config_flags: tuple[str, ...] = ()  # the flags that name its configuration file
    config_format: str = ""  # "python" (name = value), "ini" (a [section] of key = value), "yaml", "ruby"
    config_section: str = ""  # the ini section (uWSGI: "uwsgi")
    implicit_config: tuple[str, ...] = ()  # files it reads when present in its working directory
    language: str = ""  # "python", "ruby", "node", "java": which frameworks can run inside it
    asynchronous: bool = False  # one thread serves many requests (an event loop): threads do not bound its pool


SERVERS: tuple[Server, ...] = (
    Server(
        "gunicorn", ("gunicorn",),
        (
            Setting("processes", ("-w", "--workers"), ("WEB_CONCURRENCY",), ("workers",), 1,
                    doc="https://docs.gunicorn.org/en/stable/settings.html#workers"),
            Setting("threads", ("--threads",), (), ("threads",), 1,
                    doc="https://docs.gunicorn.org/en/stable/settings.html#threads"),
        ),
        "https://docs.gunicorn.org/en/stable/settings.html",
        args_variable="GUNICORN_CMD_ARGS", config_flags=("-c", "--config"), config_format="python",
        implicit_config=("gunicorn.conf.py",), language="python",
    ),
    Server(
        "uvicorn", ("uvicorn",),
        (
            Setting("processes", ("--workers",), ("UVICORN_WORKERS", "WEB_CONCURRENCY"), (), 1,
                    doc="https://www.uvicorn.org/settings/#production"),
        ),
        "https://www.uvicorn.org/settings/", language="python", asynchronous=True,
    ),
    Server(
        "hypercorn", ("hypercorn",),
        (Setting("processes", ("-w", "--workers"), (), ("workers",), 1,
                 doc="https://hypercorn.readthedocs.io/en/latest/how_to_guides/configuring.html"),),
        "https://hypercorn.readthedocs.io/en/latest/how_to_guides/configuring.html",
        config_flags=("-c", "--config"), language="python", asynchronous=True,
    ),
    Server(
        "granian", ("granian",),
        (
            Setting("processes", ("--workers",), ("GRANIAN_WORKERS",), (), 1,
                    doc="https://github.com/emmett-framework/granian#options"),
            Setting("threads", ("--blocking-threads",), ("GRANIAN_BLOCKING_THREADS",), (), 1,
                    doc="https://github.com/emmett-framework/granian#options"),
        ),
        "https://github.com/emmett-framework/granian#options", language="python",
    ),
    Server(
        "daphne", ("daphne",), (),
        "https://github.com/django/daphne#readme", language="python", asynchronous=True,
    ),
    Server(
        "uwsgi", ("uwsgi",),
        (
            Setting("processes", ("-p", "--processes", "--workers"), (), ("processes", "workers"), 1,
                    doc="https://uwsgi-docs.readthedocs.io/en/latest/Options.html#processes"),
            Setting("threads", ("--threads",), (), ("threads",), 1,
                    doc="https://uwsgi-docs.readthedocs.io/en/latest/Options.html#threads"),
        ),
        "https://uwsgi-docs.readthedocs.io/en/latest/Configuration.html#environment-variables",
        env_prefix="UWSGI_", config_flags=("--ini",), config_format="ini", config_section="uwsgi",
        language="python",
    ),
    Server(
        "puma", ("puma",),
        (
            Setting("processes", ("-w", "--workers"), ("WEB_CONCURRENCY",), ("workers",), 1,
                    doc="https://github.com/puma/puma/blob/master/lib/puma/configuration.rb (workers 0: one process)"),
            Setting("threads", ("-t", "--threads"), ("PUMA_MAX_THREADS", "MAX_THREADS"), ("threads",), 5, form="range",
                    doc="https://github.com/puma/puma/blob/master/lib/puma/configuration.rb (max_threads 5 on MRI)"),
        ),
        "https://github.com/puma/puma#configuration",
        config_flags=("-C", "--config"), config_format="ruby",
        implicit_config=("config/puma.rb",), language="ruby",
    ),
    Server(
        "sidekiq", ("sidekiq",),
        (Setting("threads", ("-c", "--concurrency"), ("RAILS_MAX_THREADS",), (":concurrency", "concurrency"), 5,
                 doc="https://github.com/sidekiq/sidekiq/blob/main/lib/sidekiq/config.rb (concurrency: 5) and cli.rb (RAILS_MAX_THREADS)"),),
        "https://github.com/sidekiq/sidekiq/wiki/Advanced-Options",
        config_flags=("-C", "--config"), config_format="yaml",
        implicit_config=("config/sidekiq.yml",), language="ruby",
    ),
    Server(
        "celery", ("celery",),
        (Setting("processes", ("-c", "--concurrency"), (), (), HOST_CPUS,
                 doc="https://docs.celeryq.dev/en/stable/userguide/workers.html#concurrency"),),
        "https://docs.celeryq.dev/en/stable/reference/cli.html#celery-worker",
        subcommands=("worker",), language="python",
    ),
    Server(
        "rq", ("rq", "rqworker"),
        (Setting("processes", ("-n", "--num-workers"), (), (), 1,
                 doc="https://python-rq.org/docs/workers/#worker-pool"),),
        "https://python-rq.org/docs/workers/",
        subcommands=("worker", "worker-pool"), language="python",
    ),
)


def server_named(program: str) -> Server | None:
    """Return the server a program name starts, if it is one planner knows."""
    for server in SERVERS:
        if program in server.programs:
            return server
    return None
