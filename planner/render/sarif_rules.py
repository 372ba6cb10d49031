"""The rules of planner's SARIF log: one per kind of finding, each with its help in the log itself.

GitHub code scanning shows a rule's ``help.markdown`` (else ``help.text``) beside each alert, so the
help says what the finding means, where the alert sits and what to do, without sending anyone to a
web page. A ``helpUri`` (and the driver's ``informationUri``) is written only when the installed
package's metadata names a project URL (``Project-URL``, else ``Home-page``): never a placeholder.
"""

from __future__ import annotations

from typing import Any

# rule id -> (level, short description, full description)
BUDGET_RULES: dict[str, tuple[str, str, str]] = {
    "budget-over": ("error", "Connection demand above usable",
                    "In a scenario (steady, peak, rollout) the connections the topology's services and poolers open on a "
                    "database instance exceed usable = max_connections − reserved: new connections are refused "
                    "(SQLSTATE 53300). An unbounded pool is always over."),
    "budget-warn": ("warning", "Connection demand above the alarm line",
                    "In a scenario the demand on a database instance is within usable but above alarm_at = "
                    "floor(max_connections × (1 − headroom)): little room is left for RDS's own sessions and spikes."),
    "pooler-client-over": ("error", "PgBouncer client demand above max_client_conn",
                           "The clients of a PgBouncer fleet want more connections in a scenario than replicas × "
                           "max_client_conn: PgBouncer refuses the excess clients."),
    "pooler-client-wait": ("warning", "Pgpool-II client demand above num_init_children",
                           "The clients of a Pgpool-II fleet want more connections in a scenario than replicas × "
                           "num_init_children: each child serves one client, and the rest wait in Pgpool-II's queue "
                           "(refused only with reserved_connections set, or once the listen queue is full)."),
}

# lint code -> (short, full): the table of docs/topology.md "Warnings", one line each
LINT_RULES: dict[str, tuple[str, str]] = {
    "estimated": ("max_connections rests on an estimate",
                  "The instance's max_connections rests on an estimated DBInstanceClassMemory; run SHOW max_connections "
                  "on a real instance and pass it with --observations."),
    "not-orderable": ("Instance class not orderable",
                      "The instance class is not offered for the database's engine, version and deployment: a running "
                      "instance keeps working, nothing new can be built on it."),
    "lambda-unreserved": ("Lambda without reserved concurrency",
                          "A Lambda function without reserved concurrency: the account's 1000 concurrent executions "
                          "are assumed, each with its own connections."),
    "unbounded-pool": ("Pool without a limit", "A connection pool without an upper limit: its demand is unbounded."),
    "proxy-full-with-direct": ("RDS Proxy near full beside direct clients",
                               "An RDS Proxy takes 90 % or more of max_connections while other clients connect "
                               "directly to the same database."),
    "proxy-over-100": ("RDS Proxies over 100 %",
                       "Several RDS Proxies on one database whose max_connections_percent sum over 100."),
    "pgbouncer-replicas": ("PgBouncer replicas multiply server pools",
                           "PgBouncer replicas > 1: each keeps its own server pools, so the database sees replicas × "
                           "the pool size."),
    "pgpool-replicas": ("Pgpool-II replicas multiply cached connections",
                        "Pgpool-II replicas > 1: each runs its own num_init_children children, each caching up to "
                        "max_pool backend connections."),
    "session-mode": ("PgBouncer in session mode", "A PgBouncer in session mode does not multiplex clients."),
    "shared-instance": ("Environments share one instance",
                        "Several environments on one instance: a spike in one takes the others' connections."),
    "burstable-production": ("Burstable class in production",
                             "A T (burstable) class serves an environment named like production: it throttles when "
                             "CPU credits run out."),
    "max-connections-override": ("max_connections far above the default",
                                 "max_connections is set above twice the default for the instance class."),
    "old-formula": ("Pre-2021 max_connections formula", "The parameter group uses the old {DBInstanceClassMemory/31457280} formula."),
    "surge-count": ("Integer max_surge not below the replica maximum",
                    "An integer max_surge (more than 1) not smaller than the replica maximum: a rollout may double the "
                    "fleet or more. Did you mean a percentage?"),
    "pool-below-threads": ("Pool smaller than the threads sharing it",
                           "A per-process pool smaller than the threads that share it: threads queue for connections "
                           "and time out."),
    "pool-above-concurrency": ("Pool larger than the concurrency that can use it",
                               "A thread-per-request pool whose size + max_overflow is above the threads of its process: "
                               "counted at its size; held to its threads it would open less, at no cost."),
    "django-pool-unknown": ("Django pooling cannot be vouched for",
                            "Whether Django's OPTIONS['pool'] (5.1+) is on is not in the topology; with it each "
                            "process opens 4 connections, whatever its threads."),
    "pool-held-at-max": ("Pool held at max_size",
                         "A min_size < max_size pool keeps what a burst opened until its idle timeout: steady counts "
                         "max_size."),
    "deployment": ("Something wrong in the deployment's files",
                   "The deployment's files hold something wrong that did not stop planner reading them, such as an "
                   "autoscaler whose target is in none of the files."),
}
# warnings `check --observed` adds (planner observe): documented in the README, not in the topology reference
OBSERVED_RULES: dict[str, tuple[str, str]] = {
    "observed-above-plan": ("Observed peak above the plan",
                            "CloudWatch saw more connections than the plan's demand: a source is missing from the "
                            "topology."),
    "observed-unmatched": ("Observed instance matches no database",
                           "An observed instance matches no database of the topology."),
    "observed-trend": ("The observed peak's trend nears the alarm line",
                       "The Theil-Sen trend of the daily peaks CloudWatch saw reaches the instance's alarm line within 90 "
                       "days (an estimate, with its band)."),
    "observed-proxy": ("What an RDS Proxy held",
                       "CloudWatch's DatabaseConnections and ClientConnections of an observed RDS Proxy against its "
                       "share of the database; a pool that reached 90 % of its share made clients wait."),
}



# Where a budget alert sits (planner/render/places.py), said once in each budget rule's help.
PLACEMENT = ("The alert sits on the line that sets the largest share of the demand in that scenario: the largest "
             "source's replica count (or the value after it that is written down), in the topology or in the "
             "deployment file it was read from; the database's line is a related location.")
# rule id -> what to do, in Markdown (the text form drops the backticks)
FIXES: dict[str, str] = {
    "budget-over": ("`planner explain TOPOLOGY --database DB` writes out each source's multiplication; `planner recommend "
                    "TOPOLOGY` lists what brings the database back under its alarm line (pools held to their concurrency, "
                    "a pooler, a larger instance class), each with its cost. A breach the team accepts for a while goes "
                    "in the topology's `waivers`, with a reason and an expiry date; on an estate already over budget, "
                    "`planner check --write-baseline FILE` records today's breaches and `--baseline FILE` fails only on "
                    "new or worse ones."),
    "budget-warn": ("The alarm line is max_connections × (1 − `headroom`), set in the database's entry. `planner explain` "
                    "and `planner recommend` work as for budget-over. It fails `planner check` only with "
                    "`--fail-on warn`."),
    "pooler-client-over": ("Raise the pooler's `max_client_conn` or `replicas`, or lower its clients' pools or replicas; "
                           "`planner explain TOPOLOGY` writes out the client demand."),
    "pooler-client-wait": ("Raise the pooler's `num_init_children` or `replicas` (each child keeps up to `max_pool` "
                           "backend connections: check the database's side too), or lower its clients' pools."),
}
LINT_FIX = ("The warning's message names the number that makes it real and the fix. A warning the team has decided to "
            "live with is acknowledged in the topology, for all of it or for one service: "
            "`lints: {ignore: [CODE], reason: \"...\"}` (docs/topology.md, Warnings).")
OBSERVED_FIX = ("Add the source the topology misses (or correct the one that is wrong), then run `planner check "
                "--observed FILE` again; the observations come from `planner observe`.")
OBSERVED_FIXES = {
    "observed-trend": ("Plan the change before the date: planner recommend shows the options (smaller pools, a pooler, "
                       "a proxy's share, a resize); planner report --observed draws the trend and its band."),
    "observed-proxy": ("Name the topology's rds-proxy pooler as the proxy is named; a pool that was full needs a larger "
                       "max_connections_percent (planner recommend weighs it) or fewer clients."),
}


def project_url() -> str | None:
    """Return the installed package's project URL from its metadata: the one labelled documentation, else
    home page, else source, else the first (``Project-URL``); else ``Home-page``; None when there is none."""
    from importlib import metadata  # read only when a SARIF log is written: the lookup costs start-up time

    try:
        found = metadata.metadata("planner")
    except metadata.PackageNotFoundError:
        return None
    urls: dict[str, str] = {}
    for entry in found.get_all("Project-URL") or ():
        label, _, url = entry.partition(",")
        if url.strip().startswith(("https://", "http://")):
            urls.setdefault(label.strip().lower().replace(" ", "").replace("-", ""), url.strip())
    for label in ("documentation", "docs", "homepage", "home", "source", "sourcecode", "repository"):
        if label in urls:
            return urls[label]
    home = found.get("Home-page") or ""
    return next(iter(urls.values()), home if home.startswith(("https://", "http://")) else None)


def _rule(rule_id: str, level: str, short: str, full: str, fix: str, url: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": f"{short}. {full} {fix.replace('`', '')}", "markdown": f"**{short}**\n\n{full}\n\n{fix}"},
        "defaultConfiguration": {"level": level},
    }
    if url is not None:
        rule["helpUri"] = url
    return rule


def sarif_rules(url: str | None = None) -> list[dict[str, Any]]:
    """Return every rule planner can report, budget rules first, then the lint codes, then the observed ones;
    ``url`` (see :func:`project_url`) is each rule's ``helpUri`` when given."""
    rules = [_rule(rid, level, short, full, f"{PLACEMENT} {FIXES[rid]}", url)
             for rid, (level, short, full) in BUDGET_RULES.items()]
    rules += [_rule(code, "warning", short, full, LINT_FIX, url) for code, (short, full) in LINT_RULES.items()]
    rules += [_rule(code, "warning", short, full, OBSERVED_FIXES.get(code, OBSERVED_FIX), url) for code, (short, full) in OBSERVED_RULES.items()]
    return rules


def unknown_rule(code: str, url: str | None = None) -> dict[str, Any]:
    """Return a rule for a warning code this table does not know yet (a lint added later still gets one)."""
    return _rule(code, "warning", code, f"planner warning {code}.", LINT_FIX, url)
