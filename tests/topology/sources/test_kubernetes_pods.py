"""Kubernetes workloads as neutral Containers, and the workloads that are not Deployments.

Each workload is reduced to the :class:`Container`\\ s of its pod template, as the kubelet starts
them: command and arguments with ``$(VAR)`` expanded, environment, CPU limit, the files its volumes
mount (a ConfigMap's, with their lines), init containers last. Jobs, CronJobs, DaemonSets and Argo
Rollouts give what their manifests say of their replicas and rollouts. Every expected value below is
read off the fixture by hand (fixtures/kubernetes/README.md names each one's source).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from planner.topology.sources.base import UNKNOWN_MARK, Container, Fact, Found, Unknown
from planner.topology.sources.kubernetes.pods import cpu_cores

from ...conftest import run_cli
from .test_kubernetes import _in_fixtures, copied, FIXTURES, edit, facts, origins, source  # noqa: F401 (the fixtures: run in the fixtures' folder, or a copy)


def container(found: Found, name: str) -> Container:
    match = found.container(name)
    assert match is not None, name
    return match


def files(c: Container) -> dict[str, str]:
    """Return a container's files: a Fact as "= ORIGIN", an Unknown as "? REASON (ORIGIN)"."""
    return {path: f"= {value.origin}" if isinstance(value, Fact) else f"? {value.reason} ({value.origin})"
            for path, value in sorted(c.files.items())}


def marked(name: str) -> str:
    return f"{UNKNOWN_MARK}{name}{UNKNOWN_MARK}"


# --------------------------------------------------------------------------- command and arguments


def test_command_replaces_the_images_entrypoint_and_its_cmd() -> None:
    db = container(source("otel-demo").find("Deployment/astronomy-db", "database"), "astronomy-db")
    assert db.image == "postgres:18.4"
    assert db.entrypoint == ("docker-entrypoint.sh", "postgres", "-c", "shared_preload_libraries=pg_stat_statements")
    assert db.args == ()  # `command` alone: the image's CMD is not run either
    assert db.command == db.entrypoint
    assert str(db.command_origin) == "Deployment/astronomy-db containers[astronomy-db].command, otel-demo/component.yaml:924"


def test_args_alone_keep_the_images_entrypoint() -> None:
    agent = container(source("otel-demo").find("DaemonSet/otel-collector-agent", "service"), "opentelemetry-collector")
    assert agent.entrypoint is None
    assert agent.args == ("--config=/conf/relay.yaml", "--feature-gates=service.profilesSupport")
    assert agent.command == agent.args
    assert str(agent.command_origin).endswith("containers[opentelemetry-collector].args, "
                                              "otel-demo/opentelemetry-collector/daemonset.yaml:43")


def test_neither_leaves_the_command_to_the_image() -> None:
    accounting = container(source("otel-demo").find("Deployment/accounting", "service"), "accounting")
    assert (accounting.entrypoint, accounting.args, accounting.command, accounting.command_origin) == (None, None, None, None)


def test_variables_in_arguments_expand_as_the_kubelet_expands_them() -> None:
    found = source("backup-restore").find("Deployment/restore-db", "service")
    restore = container(found, "restore-db")
    # $(BACKUP) is restore-config's `backup`, written inside a single-quoted shell string: the kubelet
    # expands it before any shell runs
    assert restore.command == ("/bin/sh", "-c", 'echo "$PGPASS" > /root/.pgpass && ls /var/restore && chmod 600 '
                               "/root/.pgpass && psql -U <dbuser> -h <dbhost>  < /var/restore/<backup name>.sql "
                               "&& echo done && sleep 100m")
    # S3_BUCKET comes from a key restore-config does not have: planner cannot know it, and says which variable
    transfer = container(found, "transfer-s3")
    assert transfer.command == ("/bin/sh", "-c", f"echo copy start; aws s3 cp s3://{marked('S3_BUCKET')}/<backup name>.sql "
                                                 "/var/restore/; echo done;")
    # a shell's own $(date ...) is no variable: it stays for the shell
    backup = container(source("backup-restore").find("CronJob/db-backup", "service"), "db-backup")
    assert backup.command is not None and '> /var/backups/db-backup-$(date +"%d-%m-%Y-%H-%M").sql' in backup.command[2]


def test_secret_variables_and_unreadable_env_from_are_marked_unknown() -> None:
    found = source("handwritten/volumes.yaml").find("Deployment/bouncer", "service")
    assert container(found, "app").args == (
        "--workers=4",  # WORKERS is a literal value
        f"--threads={marked('THREADS')}",  # a Secret's key
        f"--pool={marked('POOL')}",  # set by nothing listed, but the envFrom Secret may set it
        "$(WORKERS)")  # $$ is a literal $
    # without an unreadable envFrom, a reference to nothing stays as written, as in the container
    assert container(found, "plain").command == ("sh", "-c", "echo 2 $(NOTHING)")


# --------------------------------------------------------------------------- CPU limits


@pytest.mark.parametrize(("quantity", "cores"), [
    ("500m", 0.5), ("2", 2), (2, 2), (1.5, 1.5), ("0.5", 0.5), ("1500m", 1.5), ("10m", 0.01), (" 4 ", 4),
    ("0", None), ("abc", None), (None, None), (True, None), ("2Gi", None),
])
def test_cpu_quantities_in_cores(quantity: object, cores: float | None) -> None:
    assert cpu_cores(quantity) == cores


def test_a_cpu_limit_is_read_and_a_request_is_not() -> None:
    found = source("sourcegraph").find("StatefulSet/codeinsights-db", "database")
    db, exporter = container(found, "codeinsights"), container(found, "pgsql-exporter")
    assert (db.cpus.value, exporter.cpus.value) == (4, 0.01)  # type: ignore[union-attr]
    assert str(db.cpus.origin) == ("StatefulSet/codeinsights-db containers[codeinsights].resources.limits.cpu, "  # type: ignore[union-attr]
                                   "sourcegraph/rendered.yaml:4122")
    bouncer = source("handwritten/volumes.yaml").find("Deployment/bouncer", "service")
    assert container(bouncer, "pgbouncer").cpus.value == 0.25  # type: ignore[union-attr]  # limits 250m, requests 1
    assert container(bouncer, "plain").cpus is None  # a request alone: no limit pins the CPUs down
    assert container(source("otel-demo").find("Deployment/astronomy-db", "database"), "astronomy-db").cpus is None  # memory only


# --------------------------------------------------------------------------- mounted files


def test_a_config_map_mounted_whole_gives_each_key_as_a_file_with_its_line() -> None:
    pgbouncer = container(source("pgbouncer-configmap").find("Deployment/staging-pgbouncer", "pooler"), "staging-pgbouncer")
    assert files(pgbouncer) == {  # mountPath /etc/pgbouncer/ (with its slash)
        "/etc/pgbouncer/pgbouncer.ini": "= ConfigMap/staging-pgbouncer data.pgbouncer.ini, "
                                        "pgbouncer-configmap/configmap-staging-pgbouncher.yaml:13",
        "/etc/pgbouncer/userlist.txt": "= ConfigMap/staging-pgbouncer data.userlist.txt, "
                                       "pgbouncer-configmap/configmap-staging-pgbouncher.yaml:7",
    }
    ini = pgbouncer.files["/etc/pgbouncer/pgbouncer.ini"]
    assert isinstance(ini, Fact) and "max_client_conn = 5000\ndefault_pool_size = 40\n" in ini.value
    assert pgbouncer.cpus is not None and pgbouncer.cpus.value == 2
    db = container(source("otel-demo").find("Deployment/astronomy-db", "database"), "astronomy-db")
    assert files(db) == {"/docker-entrypoint-initdb.d/init.sql": "= ConfigMap/postgresql-init data.init.sql, "
                                                                 "otel-demo/posgresql-init-config.yaml:17"}


def test_what_planner_cannot_read_is_mounted_as_unknown() -> None:
    found = source("sourcegraph").find("StatefulSet/pgsql", "database")
    assert files(container(found, "pgsql")) == {
        "/conf/postgresql.conf": "= ConfigMap/pgsql-conf data.postgresql.conf, sourcegraph/rendered.yaml:1599",
        "/data/": "? is a persistentVolumeClaim volume, whose files planner cannot see (StatefulSet/pgsql volumes[disk], "
                  "sourcegraph/rendered.yaml:4689)",
        "/dev/shm/": "? is an emptyDir volume, whose files planner cannot see (StatefulSet/pgsql volumes[dshm], "
                     "sourcegraph/rendered.yaml:4696)",
    }


def test_items_sub_paths_projections_and_secrets() -> None:
    pgbouncer = container(source("handwritten/volumes.yaml").find("Deployment/bouncer", "pooler"), "pgbouncer")
    ini = "= ConfigMap/bouncer-config data.pgbouncer.ini, handwritten/volumes.yaml:7"
    where = "Deployment/bouncer volumes[{}], handwritten/volumes.yaml:{}"
    secret = "? comes from Secret/bouncer-secret, which planner does not read (" + where.format("creds", 94) + ")"
    missing = ("? names key 'missing.ini', which ConfigMap/bouncer-config (handwritten/volumes.yaml:1) does not have ("
               + where.format("config", 88) + ")")
    assert files(pgbouncer) == {
        "/etc/app/": "? comes from Secret/app-secret, which planner does not read (" + where.format("app", 101) + ")",
        "/etc/app/gunicorn.conf.py": "= ConfigMap/app-config data.gunicorn.conf.py, handwritten/volumes.yaml:24",
        "/etc/app/labels": "? is a pod field (downwardAPI), known only once the pod runs (" + where.format("app", 101) + ")",
        "/etc/app/token": "? is a serviceAccountToken projection, which only the cluster knows (" + where.format("app", 101) + ")",
        "/etc/elsewhere/": "? comes from ConfigMap/made-by-another-chart, which is not in the Kubernetes manifests planner "
                           "reads (" + where.format("elsewhere", 111) + ")",
        "/etc/key.pem": secret,  # a subPath of a Secret: a file or a folder, planner cannot tell
        "/etc/key.pem/": secret,
        "/etc/pgbouncer-override.ini": ini,  # subPath: one key, as the file mountPath
        "/etc/pgbouncer/logo.png": "? is binary data (ConfigMap/bouncer-config binaryData.logo.png, handwritten/volumes.yaml:16)",
        "/etc/pgbouncer/pgbouncer.ini": ini,  # the whole ConfigMap, every key
        "/etc/pgbouncer/userlist.txt": "= ConfigMap/bouncer-config data.userlist.txt, handwritten/volumes.yaml:13",
        "/etc/secret/": secret,
        "/etc/tls/server.crt": "? comes from Secret/bouncer-tls, which planner does not read (" + where.format("tls", 96) + ")",
        "/opt/conf/conf/missing.ini": missing,  # items: under their own paths
        "/opt/conf/conf/pgbouncer.ini": ini,
        "/tmp/": "? is an emptyDir volume, whose files planner cannot see (" + where.format("scratch", 118) + ")",
        "/var/log/pod": "? is mounted through subPathExpr, which is expanded per pod "
                        "(Deployment/bouncer containers[pgbouncer].volumeMounts[whole], handwritten/volumes.yaml:60)",
        "/x/pgb.ini": ini,  # subPath: an item's path
        "/y/missing.ini": missing,  # subPath: a folder of items
        "/y/pgbouncer.ini": ini,
    }  # /etc/optional: an optional key the ConfigMap lacks is no file at all


# --------------------------------------------------------------------------- init containers


def test_init_containers_come_last_and_run_once_unless_they_are_sidecars() -> None:
    found = source("handwritten/volumes.yaml").find("Deployment/bouncer", "service")
    assert [(c.name, c.one_shot) for c in found.containers or ()] == [
        ("pgbouncer", False), ("app", False), ("plain", False), ("migrate", True), ("proxy", False)]
    assert str(container(found, "migrate").command_origin) == ("Deployment/bouncer initContainers[migrate].command, "
                                                              "handwritten/volumes.yaml:80")
    assert list(found.env or {}) == ["pgbouncer", "app", "plain", "proxy"]  # a one-shot container is no environment to read
    frontend = source("sourcegraph").find("Deployment/sourcegraph-frontend", "service")
    assert [(c.name, c.one_shot, c.args) for c in frontend.containers or ()] == [
        ("frontend", False, ("serve",)), ("migrator", True, ("up",))]
    assert frontend.images == ("index.docker.io/sourcegraph/frontend:6.2.1106@sha256:"
                               "025a8f66d15cc33cc155dbb995d111a29e65d5fe338a62df8fe4cf012db06788",)


# --------------------------------------------------------------------------- Jobs, CronJobs, DaemonSets, Rollouts


def test_a_job_runs_its_parallelism_and_has_no_rollout() -> None:
    found = source("bank-of-anthos-init-db").find("Job/populate-accounts-db", "service")
    assert facts(found) == {"replicas": 1, "max_surge": 0, "scenarios": ["rollout"]}  # it runs while a deploy runs
    assert origins(found) == {
        "replicas": "Job/populate-accounts-db spec.parallelism (absent: Kubernetes' default, 1), bank-of-anthos-init-db/rendered.yaml:244",
        "max_surge": "Job/populate-accounts-db (a Job runs to completion: no rollout, no surge), bank-of-anthos-init-db/rendered.yaml:237",
        "scenarios": "Job/populate-accounts-db kind Job (runs to completion while a deploy runs: a migration, a Helm hook), "
                     "bank-of-anthos-init-db/rendered.yaml:238",
    }
    assert "scenarios" not in source("bank-of-anthos-init-db").find("Job/populate-accounts-db", "pooler").facts  # a service key
    populate = container(found, "populate-accounts-db")
    assert (populate.image, populate.cpus.value, populate.env_unread) == (  # type: ignore[union-attr]
        "postgres:16.13-alpine@sha256:4e6e670bb069649261c9c18031f0aded7bb249a5b6664ddec29c013a89310d50", 0.1,
        ("ConfigMap/demo-data-config", "ConfigMap/environment-config"))
    assert sorted(populate.files) == ["/scripts/0-accounts-schema.sql", "/scripts/1-load-testdata.sh",
                                      "/scripts/initialize-database.sh"]


def test_a_job_parallelism_is_its_replicas(copied: Path) -> None:
    edit(copied / "bank-of-anthos-init-db" / "rendered.yaml", "  activeDeadlineSeconds: 300\n",
         "  activeDeadlineSeconds: 300\n  parallelism: 4\n")
    found = source("bank-of-anthos-init-db").find("Job/populate-accounts-db", "service")
    assert facts(found)["replicas"] == 4
    assert origins(found)["replicas"] == "Job/populate-accounts-db spec.parallelism, bank-of-anthos-init-db/rendered.yaml:246"


def test_a_cron_job_runs_its_job_template_and_may_overlap() -> None:
    found = source("backup-restore").find("CronJob/db-backup", "service")
    assert facts(found) == {"replicas": 1, "max_surge": 0, "scenarios": ["peak", "rollout"]}  # at any time, never steady
    assert origins(found)["scenarios"] == ("CronJob/db-backup spec.schedule '00 01 * * *' (runs to completion, at any time), "
                                           "backup-restore/db_backup.yml:7")
    assert origins(found)["replicas"] == ("CronJob/db-backup spec.jobTemplate.spec.parallelism (absent: Kubernetes' default, 1), "
                                          "backup-restore/db_backup.yml:9")
    assert found.notes == [
        "CronJob/db-backup has no concurrencyPolicy (Kubernetes' default, Allow): a run may start before the last one "
        "ends, and planner counts one run at a time (https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/"
        "#concurrency-policy)"]
    assert [(c.name, c.one_shot) for c in found.containers or ()] == [("copy-s3", False), ("db-backup", True)]


def test_a_cron_job_that_cannot_overlap_or_is_suspended(copied: Path) -> None:
    edit(copied / "backup-restore" / "db_backup.yml", '  schedule: "00 01 * * *"\n',
         '  schedule: "00 01 * * *"\n  concurrencyPolicy: Forbid\n  suspend: true\n')
    assert source("backup-restore").find("CronJob/db-backup", "service").notes == [
        "CronJob/db-backup is suspended (spec.suspend): it starts no run until resumed"]


def test_a_daemon_set_runs_a_pod_per_node_which_no_manifest_says() -> None:
    found = source("otel-demo").find("DaemonSet/otel-collector-agent", "service")
    replicas = found.facts["replicas"]
    assert isinstance(replicas, Unknown)
    assert replicas.reason == "runs one pod on each node it is scheduled on, and how many nodes that is no manifest says"
    assert str(replicas.origin) == "DaemonSet/otel-collector-agent kind, otel-demo/opentelemetry-collector/daemonset.yaml:4"
    assert facts(found)["max_surge"] == 0
    assert origins(found)["max_surge"] == ("DaemonSet/otel-collector-agent spec.updateStrategy.rollingUpdate.maxSurge (absent: "
                                           "Kubernetes' default for a DaemonSet, 0), otel-demo/opentelemetry-collector/daemonset.yaml:23")


def test_argo_rollouts_surge_by_their_strategy() -> None:
    src = source("argo-rollouts")
    canary = src.find("Rollout/rollout-canary", "service")
    assert facts(canary) == {"replicas": 5, "max_surge": "25%"}
    assert origins(canary)["max_surge"] == ("Rollout/rollout-canary spec.strategy.canary.maxSurge (absent: Argo Rollouts' "
                                            "default, 25%), argo-rollouts/rollout-canary.yaml:25")
    blue_green = src.find("Rollout/rollout-bluegreen", "service")
    assert facts(blue_green) == {"replicas": 2, "max_surge": "100%"}  # the new ReplicaSet at full size beside the old one
    assert [c.image for c in canary.containers or ()] == ["argoproj/rollouts-demo:blue"]


def test_a_rollout_runs_the_pods_of_the_deployment_its_workload_ref_names() -> None:
    found = source("argo-rollouts").find("Rollout/rollout-ref-deployment", "service")
    assert facts(found) == {"replicas": 5, "max_surge": "25%"}
    assert [(c.name, c.image) for c in found.containers or ()] == [("rollouts-demo", "argoproj/rollouts-demo:blue")]


def test_an_autoscaler_may_scale_a_rollout(copied: Path) -> None:
    (copied / "argo-rollouts" / "hpa.yaml").write_text(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: canary}\nspec:\n"
        "  scaleTargetRef: {apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: rollout-canary}\n"
        "  minReplicas: 3\n  maxReplicas: 12\n")
    found = source("argo-rollouts").find("Rollout/rollout-canary", "service")
    assert (facts(found)["replicas.min"], facts(found)["replicas.max"]) == (3, 12)


def test_names_list_every_kind_of_workload() -> None:
    assert source("backup-restore", "argo-rollouts", "bank-of-anthos-init-db", "otel-demo/opentelemetry-collector").names(
        "service") == ["CronJob/db-backup", "Deployment/restore-db", "Rollout/rollout-bluegreen", "Rollout/rollout-canary",
                       "Deployment/rollout-ref-deployment", "Rollout/rollout-ref-deployment", "Job/populate-accounts-db",
                       "DaemonSet/otel-collector-agent"]


def test_jobs_count_only_in_the_scenarios_they_run_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for folder in ("backup-restore", "bank-of-anthos-init-db"):
        shutil.copytree(FIXTURES / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.yaml").write_text(
        "version: 1\nsources: {kubernetes: [backup-restore/, bank-of-anthos-init-db/]}\n"
        "databases:\n  main: {instance_class: db.m6g.large, parameters: {max_connections: 600}}\n"
        "services:\n  populate: {from: Job/populate-accounts-db, pool: 2}\n  backup: {from: CronJob/db-backup, pool: 1}\n")
    code, out, err = run_cli(["check", "jobs.yaml", "--format", "json"])
    assert code == 0, err
    by_source = {s["source"]: (s["steady"], s["peak"], s["rollout"], s.get("scenarios"))
                 for s in json.loads(out)["instances"][0]["demand_by_source"]}
    # one pod each, no surge: the Job's 2 connections only while a deploy runs, the CronJob's 1 at a peak or a deploy
    assert by_source == {"populate@default": (0, 0, 2, ["rollout"]), "backup@default": (0, 1, 1, ["peak", "rollout"])}
