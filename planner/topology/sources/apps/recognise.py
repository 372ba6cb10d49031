"""Turn a container into processes, threads and a pool: the numbers a topology needs, with where each came from.

:func:`read_container` reads one :class:`~planner.topology.sources.base.Container` the way the
software in it reads itself: the app server on its command line (:mod:`.servers`) and that server's
flags, arguments variable, configuration file and variables; the framework whose pool the process
opens (:mod:`.frameworks`) and that pool's variables and defaults. The result, :class:`Reading`,
keeps two kinds of values apart:

- ``values`` the deployment states (``-w 4``, ``WEB_CONCURRENCY=3``, ``workers = 2`` in a mounted
  ``gunicorn.conf.py``): a topology that writes a different number is told it disagrees;
- ``defaults`` the software's documentation states for what the deployment leaves unsaid (gunicorn's
  one worker, SQLAlchemy's 5 + 10): a topology's own value stands over them.

A number neither can give (Celery's one process per CPU of the host, a flag set from a Secret, a
configuration file inside the image) is an :class:`~planner.topology.sources.base.Unknown` naming
why, which the resolver turns into an exit 2 naming the key to write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from planner.topology.sources.apps.command import CommandSyntaxError, Invocation, invocations, mark_unknown, split_words, unknown_names
from planner.topology.sources.apps.frameworks import FRAMEWORKS, POSTGRES_URL, Framework, Number
from planner.topology.sources.apps.servers import HOST_CPUS, Server, Setting, server_named
from planner.topology.sources.base import Container, Fact, Origin, Unknown
from planner.topology.sources.redact import assignment, shown

if TYPE_CHECKING:
    from planner.topology.sources.apps import configs

PROCESSES = "processes"
THREADS = "threads"
POOL_DRIVER = "pool.driver"
POOL_SIZE = "pool.size"
POOL_OVERFLOW = "pool.max_overflow"
_RANGE = re.compile(r"\s*([0-9]+)\s*[:,]\s*([0-9]+)\s*")
_GREEN_WORKERS = re.compile(r"(?:gevent|eventlet)", re.I)  # gunicorn -k gevent: each worker serves worker_connections at once
_ASYNC_DIALECT = re.compile(r"postgres(?:ql)?\+(?:asyncpg|psycopg_async|aiopg)://")
_ASYNC_WORKERS = re.compile(r"uvicorn|aiohttp|tornado|asgi", re.I)  # an event loop per worker


@dataclass
class Reading:
    """What one container says about the topology keys of its service (see the module's docstring)."""

    values: dict[str, Fact | Unknown] = field(default_factory=dict)
    defaults: dict[str, Fact | Unknown] = field(default_factory=dict)
    server: Server | None = None
    framework: Framework | None = None
    asynchronous: bool = False
    notes: list[str] = field(default_factory=list)
    programs: list[Invocation] = field(default_factory=list)
    unparsed: str | None = None  # why the command line could not be read (a shell would refuse it too)

    def get(self, key: str) -> Fact | Unknown | None:
        """Return the value for ``key``: the deployment's, else the default."""
        return self.values.get(key) or self.defaults.get(key)


class _Reader:
    """One container's reading: its environment lookups and the origins it cites."""

    def __init__(self, ref: str, container: Container) -> None:
        self.ref = ref
        self.container = container
        self.reading = Reading()
        self.command_origin = container.command_origin or Origin(ref, "", None, f"containers[{container.name}].command")

    # ------------------------------------------------------------------ the environment

    def lookup(self, name: str) -> str | None:
        """Return a variable's value as the process sees it; a marker if unknowable; None if unset."""
        value = self.container.env.get(name)
        if isinstance(value, Fact):
            return str(value.value)
        if isinstance(value, Unknown):
            return mark_unknown(name)
        return None

    def why_unknown(self, name: str) -> str:
        """Return why the value of ``name`` cannot be known."""
        value = self.container.env.get(name)
        if isinstance(value, Unknown):
            return f"{value.origin} {value.reason}"
        return f"{name} is not set in what planner reads"

    def variable(self, names: tuple[str, ...]) -> tuple[str, Fact | Unknown] | None:
        """Return the first of ``names`` the environment sets, with its value, or None."""
        for name in names:
            value = self.container.env.get(name)
            if value is not None:
                return name, value
        return None

    # ------------------------------------------------------------------ the steps

    def run(self) -> Reading:
        """Read the server, then the framework."""
        try:
            programs = invocations(self.container.command, self.lookup)
        except CommandSyntaxError as e:  # nothing on that command line can be trusted: say so, read the rest
            self.reading.unparsed = f"{self.command_origin} {e}"
            programs = []
        self.reading.programs = programs
        server_call = next((p for p in reversed(programs) if self._server_of(p) is not None), None)
        if server_call is not None:
            self.server(server_call)
        else:
            self.concurrency_variable()
        self.framework(programs)
        return self.reading

    def concurrency_variable(self) -> None:
        """Without a known server on the command line, read WEB_CONCURRENCY: the worker processes gunicorn,
        uvicorn and Puma all take from it, set for whichever of them the image runs."""
        value = self.container.env.get("WEB_CONCURRENCY")
        if isinstance(value, Unknown):
            self.reading.values[PROCESSES] = value
        elif isinstance(value, Fact):
            setting = Setting(PROCESSES)
            self.reading.values[PROCESSES] = self.number(str(value.value), setting, _via(
                f"{assignment('WEB_CONCURRENCY', value.value)} (the worker processes gunicorn, uvicorn and Puma read it as)", value.origin))

    def _server_of(self, call: Invocation) -> Server | None:
        server = server_named(call.program)
        if server is None:
            return None
        if server.subcommands and not any(word in server.subcommands for word in call.args):
            return None  # `celery beat`, `celery flower`: no worker pool
        return server

    # ------------------------------------------------------------------ app servers

    def server(self, call: Invocation) -> None:
        """Read each of the server's settings from its flags, config file, variables and defaults."""
        server = self._server_of(call)
        assert server is not None
        self.reading.server = server
        args = list(call.args)
        extra = self.container.env.get(server.args_variable) if server.args_variable else None
        extra_args = split_words(str(extra.value)) if isinstance(extra, Fact) else []
        config = self.config_file(server, args)
        for setting in server.settings:
            value = self.setting(server, setting, args, extra_args, config)
            if value is not None:
                self.reading.values[setting.key] = value
            else:
                self.reading.defaults[setting.key] = self.default(server, setting)
        if server.name == "gunicorn":
            self.gunicorn_worker_class(args, extra_args)
        elif server.name == "celery":
            self.celery_pool(args)
        if server.asynchronous:
            self.reading.asynchronous = True

    def setting(self, server: Server, setting: Setting, args: list[str], extra_args: list[str],
                config: tuple[str, str] | Unknown | None) -> Fact | Unknown | None:
        """Return the value the deployment gives ``setting``, or None to take the default."""
        flag = find_flag(args, setting.flags)
        if flag is not None:
            return self.number(flag[1], setting, Origin(self.command_origin.what, self.command_origin.file,
                                                        self.command_origin.line, f"{server.name} {flag[0]} {flag[1]}"))
        flag = find_flag(extra_args, setting.flags)
        if flag is not None:
            origin = self.container.env[server.args_variable or ""].origin  # type: ignore[union-attr]
            return self.number(flag[1], setting, _via(f"{server.args_variable} {flag[0]} {flag[1]}", origin))
        if isinstance(config, Unknown) and setting.config:
            return config
        if isinstance(config, tuple) and setting.config:
            from_file = self.from_config(server, setting, config)
            if from_file is not None:
                return from_file
        names = tuple(server.env_prefix + s.lstrip("-").replace("-", "_").upper()
                      for s in setting.flags if s.startswith("--")) if server.env_prefix else ()
        found = self.variable(names + setting.variables)
        if found is not None:
            name, value = found
            if isinstance(value, Unknown):
                return Unknown(value.origin, f"sets {name}, which {server.name} reads for {setting.key}, but {value.reason}")
            return self.number(str(value.value), setting, _via(assignment(name, value.value), value.origin))
        return None

    def number(self, text: str, setting: Setting, origin: Origin) -> Fact | Unknown:
        """Return a setting's text as the number it means, or Unknown saying why it is not one."""
        names = unknown_names(text)
        if names:
            return Unknown(origin, f"is set from ${names[0]}, and {self.why_unknown(names[0])}")
        text = text.strip().strip("'\"")
        match = _RANGE.fullmatch(text) if setting.form == "range" else None
        if match:
            return Fact(max(int(match.group(1)), int(match.group(2))), origin)
        if text.isdigit():
            return Fact(int(text), origin)
        if text.lower() == "auto":
            return Unknown(origin, "is 'auto': one per CPU of the host, which no deployment file states")
        return Unknown(origin, "is not a number")  # what it is instead is not shown: it may be anything

    def default(self, server: Server, setting: Setting) -> Fact | Unknown:
        """Return the server's documented default for ``setting``."""
        origin = Origin(f"default of {server.name}", setting.doc or server.doc, None, _flag_name(setting))
        if setting.default == HOST_CPUS:
            cpus = self.container.env.get("PYTHON_CPU_COUNT")  # Python 3.13+: os.cpu_count() returns it
            if isinstance(cpus, Fact) and str(cpus.value).strip().isdigit():
                return Fact(int(str(cpus.value).strip()), _via(f"PYTHON_CPU_COUNT = {cpus.value!r} (os.cpu_count())", cpus.origin))
            return Unknown(origin, f"is one per CPU of the host ({server.name} counts the node's CPUs with os.cpu_count(), "
                                   "which a container's CPU limit does not change), and no deployment file states it")
        return Fact(setting.default, origin)

    def config_file(self, server: Server, args: list[str]) -> tuple[str, str] | Unknown | None:
        """Return (path, text) of the configuration file the server reads, Unknown if it cannot be read,
        None if it reads none planner knows of (with a note if it may read one from its image)."""
        path = None
        flag = find_flag(args, server.config_flags)
        if flag is not None:
            path = flag[1]
        elif server.name == "uwsgi":
            path = next((a for a in args if a.endswith((".ini", ".yml", ".yaml", ".xml", ".json")) and not a.startswith("-")), None)
            ini = self.container.env.get("UWSGI_INI")
            if path is None and isinstance(ini, Fact):
                path = str(ini.value)
        if path is None:
            implicit = [p for p in server.implicit_config if self.mounted(p)]
            if implicit:
                path = implicit[0]
            elif server.implicit_config:
                self.reading.notes.append(f"{server.name} also reads {' or '.join(server.implicit_config)} from its working "
                                          "directory when the image has one, which planner cannot see")
                return None
            else:
                return None
        text = self.mounted(path)
        if text is None:
            origin = Origin(self.command_origin.what, self.command_origin.file, self.command_origin.line,
                            f"{server.name} {flag[0] if flag else 'config'} {path}")
            return Unknown(origin, f"makes {server.name} read its settings from {path}, which is inside the image "
                                   "(not mounted from a file planner reads)")
        if isinstance(text, Unknown):
            return text
        return path, text.value

    def mounted(self, path: str) -> Fact | Unknown | None:
        """Return the file the container has at ``path`` (absolute, or relative to an unknown working
        directory: any mounted file whose path ends with it), or None."""
        files = self.container.files
        if path in files:
            return files[path]
        suffix = "/" + path.lstrip("./")
        matches = [f for f in files if f.endswith(suffix)]
        return files[matches[0]] if len(matches) == 1 else None

    def from_config(self, server: Server, setting: Setting, config: tuple[str, str]) -> Fact | Unknown | None:
        """Return a setting as the server's configuration file sets it, or None if the file does not."""
        from planner.topology.sources.apps import configs  # only when a configuration file is mounted

        path, text = config
        found = configs.read_setting(text, server.config_format, setting.config, server.config_section)
        if found is None:
            return None
        file_fact = self.mounted(path)
        base = file_fact.origin if isinstance(file_fact, Fact) else self.command_origin
        origin = Origin(f"{path} line {found.line}", base.file, base.line, None)
        if isinstance(found, configs.Literal):
            return Fact(found.value, origin)
        if isinstance(found, configs.FromVariables):
            hit = self.variable(found.variables)
            if hit is not None:
                name, value = hit
                if isinstance(value, Unknown):
                    return Unknown(value.origin, f"sets {name}, which {path} reads for {setting.key}, but {value.reason}")
                return self.number(str(value.value), setting, _via(f"{assignment(name, value.value)} (read by {path})", value.origin))
            if found.default is not None:
                return Fact(found.default, _via(f"{path} default ({', '.join(found.variables)} not set)", origin))
            return Unknown(origin, f"reads {' or '.join(found.variables)}, which the deployment does not set")
        if isinstance(found, configs.HostCpus):
            return Unknown(origin, f"sets {setting.key} from the host's CPU count ({found.text}), which no deployment file states")
        return Unknown(origin, f"sets {setting.key} to an expression planner does not evaluate")

    def gunicorn_worker_class(self, args: list[str], extra_args: list[str]) -> None:
        """A gevent or eventlet worker serves worker_connections requests at once; an ASGI worker runs an event loop."""
        flag = find_flag(args, ("-k", "--worker-class")) or find_flag(extra_args, ("-k", "--worker-class"))
        if flag is None:
            return
        worker = flag[1]
        origin = Origin(self.command_origin.what, self.command_origin.file, self.command_origin.line, f"gunicorn {flag[0]} {worker}")
        if _GREEN_WORKERS.search(worker):
            connections = find_flag(args, ("--worker-connections",))
            value = int(connections[1]) if connections and connections[1].isdigit() else 1000
            why = origin if connections else Origin("default of gunicorn", "https://docs.gunicorn.org/en/stable/settings.html#worker-connections",
                                                    None, "--worker-connections (1000) with " + worker)
            self.reading.values[THREADS] = Fact(value, why)
        elif _ASYNC_WORKERS.search(worker):
            self.reading.asynchronous = True

    def celery_pool(self, args: list[str]) -> None:
        """Celery's execution pool decides what its concurrency counts: processes (prefork) or threads."""
        autoscale = find_flag(args, ("--autoscale",))
        if autoscale is not None:
            match = _RANGE.fullmatch(autoscale[1])
            origin = Origin(self.command_origin.what, self.command_origin.file, self.command_origin.line,
                            f"celery --autoscale {autoscale[1]}")
            if match:
                self.reading.values[PROCESSES] = Fact(max(int(match.group(1)), int(match.group(2))), origin)
                self.reading.defaults.pop(PROCESSES, None)
        pool = find_flag(args, ("-P", "--pool"))
        if pool is None:
            return
        kind = pool[1]
        concurrency = self.reading.get(PROCESSES)
        origin = Origin(self.command_origin.what, self.command_origin.file, self.command_origin.line, f"celery {pool[0]} {kind}")
        if kind == "solo":
            self.reading.values[PROCESSES] = Fact(1, origin)
            self.reading.defaults.pop(PROCESSES, None)
        elif kind in ("threads", "gevent", "eventlet") and concurrency is not None:
            self.reading.values[PROCESSES] = Fact(1, origin)
            self.reading.defaults.pop(PROCESSES, None)
            if isinstance(concurrency, Fact):
                self.reading.values[THREADS] = concurrency
            elif kind == "threads":
                self.reading.values[THREADS] = concurrency
            else:  # gevent/eventlet without --concurrency: Celery's default is still the CPU count
                self.reading.values[THREADS] = concurrency

    # ------------------------------------------------------------------ frameworks and pools

    def framework(self, programs: list[Invocation]) -> None:
        """Find the framework whose pool the process opens, and read that pool's numbers."""
        language = self.reading.server.language if self.reading.server else (self.container.language or program_language(programs))
        for framework in FRAMEWORKS:
            evidence = self.evidence(framework, programs, language)
            if evidence is None:
                continue
            self.reading.framework = framework
            driver = framework.driver
            if driver == "sqlalchemy" and (self.reading.asynchronous or self._async_dialect()):
                driver = "sqlalchemy-async"  # an event loop's tasks share the pool: not one connection per thread
            if driver != "custom":
                self.reading.values[POOL_DRIVER] = Fact(driver, evidence)
            self.pool_number(framework, framework.size, POOL_SIZE)
            if framework.driver == "sqlalchemy":
                self.pool_number(framework, framework.max_overflow, POOL_OVERFLOW)
            return

    def evidence(self, framework: Framework, programs: list[Invocation], language: str) -> Origin | None:
        """Return where the container shows ``framework`` (a variable, a URL, a program), or None."""
        if framework.languages and language and language not in framework.languages:
            return None
        names, schemes = _patterns(framework)
        for name, value in self.container.env.items():
            if names is not None and names.fullmatch(name):
                if framework.needs_postgres and isinstance(value, Fact) and "://" in str(value.value) \
                        and not POSTGRES_URL.match(str(value.value)):
                    continue  # SPRING_DATASOURCE_URL=jdbc:mysql://...: the framework, but not PostgreSQL's
                return _via(f"{name} ({framework.name})", value.origin)
            if schemes is not None and isinstance(value, Fact) and schemes.match(str(value.value)):
                return _via(f"{name} = {shown(name, str(value.value), quote=False)} ({framework.name})", value.origin)
        for call in programs:
            names_run = {call.program, (call.script or "").rsplit("/", 1)[-1]}
            if names_run & set(framework.programs):
                return Origin(self.command_origin.what, self.command_origin.file, self.command_origin.line,
                              f"runs {' '.join(call.words[:3])} ({framework.name})")
        return None

    def _async_dialect(self) -> bool:
        """Return whether a database URL names one of SQLAlchemy's asyncio drivers (``postgresql+asyncpg://``)."""
        return any(isinstance(v, Fact) and _ASYNC_DIALECT.match(str(v.value)) for v in self.container.env.values())

    def pool_number(self, framework: Framework, number: Number, key: str) -> None:
        """Read one pool number: a database URL's query, then its variables, then its default."""
        if number.url_query:
            from urllib.parse import parse_qs, urlsplit

            for name, value in self.container.env.items():
                if isinstance(value, Fact) and POSTGRES_URL.match(str(value.value)):
                    query = parse_qs(urlsplit(str(value.value)).query)
                    if number.url_query in query and query[number.url_query][0].isdigit():
                        self.reading.values[key] = Fact(int(query[number.url_query][0]),
                                                        _via(f"{name} ?{number.url_query}={query[number.url_query][0]}", value.origin))
                        return
        hit = self.variable(number.variables)
        if hit is not None:
            name, value = hit
            if isinstance(value, Unknown):
                self.reading.values[key] = Unknown(value.origin, f"sets {name}, the {framework.name} pool's {key.split('.')[-1]}, "
                                                                 f"but {value.reason}")
            elif str(value.value).strip().isdigit():
                self.reading.values[key] = Fact(int(str(value.value).strip()), _via(assignment(name, value.value), value.origin))
            else:
                self.reading.values[key] = Unknown(value.origin, f"sets {name} to something that is not a number")
            return
        origin = Origin(f"default of {framework.name}", number.doc or framework.doc, None, None)
        if number.default == HOST_CPUS:
            self.reading.values[key] = Unknown(origin, "depends on the host's CPU count, which no deployment file states")
        elif isinstance(number.default, int):
            self.reading.defaults[key] = Fact(number.default, origin)


_COMPILED: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {}


def _patterns(framework: Framework) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """Return a framework's variable-name and URL-scheme patterns, each compiled once into one expression."""
    if framework.name not in _COMPILED:
        names = re.compile("|".join(f"(?:{p})" for p in framework.variables)) if framework.variables else None
        schemes = re.compile("|".join(f"(?:{p})" for p in framework.url_schemes)) if framework.url_schemes else None
        _COMPILED[framework.name] = (names, schemes)
    return _COMPILED[framework.name]


def read_container(ref: str, container: Container) -> Reading:
    """Return what ``container`` of the object ``ref`` says about processes, threads and its pool."""
    return _Reader(ref, container).run()


def find_flag(args: list[str], flags: tuple[str, ...]) -> tuple[str, str] | None:
    """Return (flag, value) for the last of ``flags`` in ``args`` (``-w 4``, ``-w4``, ``--workers=4``), or None."""
    found: tuple[str, str] | None = None
    for i, word in enumerate(args):
        for flag in flags:
            if word == flag and i + 1 < len(args):
                found = (flag, args[i + 1])
            elif flag.startswith("--") and word.startswith(flag + "="):
                found = (flag, word[len(flag) + 1:])
            elif not flag.startswith("--") and len(flag) == 2 and word.startswith(flag) and len(word) > 2 \
                    and (word[2:].isdigit() or word[2] in "=\x00"):
                found = (flag, word[2:].lstrip("="))
    return found


def _flag_name(setting: Setting) -> str:
    long = [f for f in setting.flags if f.startswith("--")]
    name = long[0] if long else (setting.flags[0] if setting.flags else setting.key)
    return f"{name} ({setting.default})" if setting.default != HOST_CPUS else name


def _via(label: str, origin: Origin) -> Origin:
    """Return ``origin`` with ``label`` saying what was read there: "WEB_CONCURRENCY = '4' ← ConfigMap/web ..."."""
    return Origin(f"{label} ← {origin.what}", origin.file, origin.line, origin.field)


def program_language(programs: list[Invocation]) -> str:
    """Return the language a program without a known server runs in, where its name says."""
    for call in programs:
        if call.program.startswith("python") or call.module or (call.script or "").endswith(".py"):
            return "python"
        if call.program in ("node", "nodejs", "npm", "yarn", "pnpm", "bun", "npx"):
            return "node"
        if call.program in ("ruby", "rails", "rake", "bundle"):
            return "ruby"
        if call.program == "java":
            return "java"
    return ""

