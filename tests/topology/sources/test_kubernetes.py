"""Kubernetes manifests as a topology's source: rendered charts, kustomize builds, kubectl output.

The reader is tested on what it says about each fixture (fixtures/kubernetes/README.md names where
each comes from); the CLI tests show a topology whose numbers follow the manifests, its verdict
changing with them, and every bad input refused with one line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.topology import load_topology
from planner.topology.sources.base import Fact, Found, RefError, SourceFileError, Unknown
from planner.topology.sources.files import DiskFiles
from planner.topology.sources.kubernetes import KubernetesSource
from planner.topology.sources.kubernetes.env import expand
from planner.topology.sources.resolve import load_source

from ...conftest import refusal, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "kubernetes"


@pytest.fixture(autouse=True)
def _in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in the fixtures' folder: files are named from where planner runs (``keda/deploy-app.yaml``)."""
    monkeypatch.chdir(FIXTURES)


@pytest.fixture
def copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a copy of the fixtures, to edit them."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def source(*paths: str) -> KubernetesSource:
    """Index the manifests at ``paths`` (files or folders), as `sources: {kubernetes: [...]}` in this folder does."""
    loaded = load_source("kubernetes", DiskFiles(Path("."), "topology.yaml"), list(paths))
    assert isinstance(loaded, KubernetesSource)
    return loaded


def facts(found: Found) -> dict[str, object]:
    """Return the values of ``found``'s facts (Unknown ones as their reason)."""
    return {key: value.value if isinstance(value, Fact) else value.reason for key, value in found.facts.items()}  # type: ignore[union-attr]


def origins(found: Found) -> dict[str, str]:
    return {key: str(value.origin) for key, value in found.facts.items()}


def env_values(found: Found, container: str) -> dict[str, object]:
    """Return a container's environment: a Fact as its value, an Unknown as "?" and its reason."""
    assert found.env is not None
    return {name: value.value if isinstance(value, Fact) else f"? {value.reason}" for name, value in found.env[container].items()}


def problems(*paths: str) -> list[str]:
    """Return the problems that make the manifests at ``paths`` unreadable."""
    with pytest.raises(SourceFileError) as info:
        source(*paths)
    return [str(problem) for problem in info.value.problems]


def ref_error(src: KubernetesSource, ref: str, role: str = "service") -> str:
    """Return a reference's error as the CLI prints it: message (hint)."""
    with pytest.raises(RefError) as info:
        src.find(ref, role)  # type: ignore[arg-type]
    return f"{info.value.message} ({info.value.hint})"


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there once) with ``new`` in the file at ``path``."""
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


# --------------------------------------------------------------------------- replicas and autoscalers


def test_a_helm_chart_with_an_hpa_gives_its_range_and_the_default_surge() -> None:
    found = source("helm-create-hpa").find("Deployment/chartsnap-app1", "service")
    assert str(found.origin) == "Deployment/chartsnap-app1, helm-create-hpa/rendered.yaml:57"
    assert facts(found) == {"replicas.min": 1, "replicas.max": 20, "max_surge": "25%"}
    assert origins(found) == {
        "replicas.min": "HorizontalPodAutoscaler/chartsnap-app1 spec.minReplicas, helm-create-hpa/rendered.yaml:118",
        "replicas.max": "HorizontalPodAutoscaler/chartsnap-app1 spec.maxReplicas, helm-create-hpa/rendered.yaml:119",
        "max_surge": "Deployment/chartsnap-app1 spec.strategy.rollingUpdate.maxSurge (absent: Kubernetes' default, 25%), "
                     "helm-create-hpa/rendered.yaml:67",
    }
    assert found.env == {"app1": {}} and found.notes == []


@pytest.mark.parametrize(("hpa", "lines"), [("hpa-v1.yaml", (10, 11)), ("hpa-v2.yaml", (14, 15))])
def test_hpa_v1_and_v2_give_the_same_range(hpa: str, lines: tuple[int, int]) -> None:
    found = source("hpa-walkthrough/php-apache.yaml", f"hpa-walkthrough/{hpa}").find("Deployment/php-apache", "service")
    assert facts(found)["replicas.min"] == 1 and facts(found)["replicas.max"] == 10
    assert origins(found)["replicas.max"] == f"HorizontalPodAutoscaler/php-apache spec.maxReplicas, hpa-walkthrough/{hpa}:{lines[1]}"
    assert origins(found)["replicas.min"].endswith(f"hpa-walkthrough/{hpa}:{lines[0]}")


def test_an_hpa_without_a_minimum_starts_at_one_and_without_a_maximum_is_unknown(copied: Path) -> None:
    edit(copied / "hpa-walkthrough" / "hpa-v1.yaml", "  minReplicas: 1\n  maxReplicas: 10\n", "")
    found = source("hpa-walkthrough/php-apache.yaml", "hpa-walkthrough/hpa-v1.yaml").find("Deployment/php-apache", "service")
    assert facts(found) == {"replicas.min": 1, "replicas.max": "has no spec.maxReplicas, which Kubernetes requires",
                            "max_surge": "25%"}
    assert isinstance(found.facts["replicas.max"], Unknown)
    assert origins(found)["replicas.min"] == ("HorizontalPodAutoscaler/php-apache spec.minReplicas (absent: Kubernetes' "
                                              "default, 1), hpa-walkthrough/hpa-v1.yaml:5")


def test_keda_scales_to_zero_by_default_which_counts_as_one_with_a_note() -> None:
    found = source("keda").find("Deployment/order-processor", "service")
    assert facts(found) == {"replicas.min": 1, "replicas.max": 10, "max_surge": "25%"}
    assert origins(found)["replicas.min"] == ("ScaledObject/order-processor-scaler spec.minReplicaCount (absent: KEDA's "
                                              "default 0, counted as 1), keda/deploy-autoscaling.yaml:24")
    assert origins(found)["replicas.max"] == "ScaledObject/order-processor-scaler spec.maxReplicaCount, keda/deploy-autoscaling.yaml:28"
    assert found.notes == ["ScaledObject/order-processor-scaler has no spec.minReplicaCount, so KEDA's default 0 applies: "
                           "counted as 1 replica, so the budget holds when it scales up"]


def test_keda_defaults_to_a_hundred_replicas(copied: Path) -> None:
    edit(copied / "keda" / "deploy-autoscaling.yaml", "  maxReplicaCount: 10\n", "  minReplicaCount: 2\n")
    found = source("keda").find("Deployment/order-processor", "service")
    assert (facts(found)["replicas.min"], facts(found)["replicas.max"], found.notes) == (2, 100, [])
    assert "spec.maxReplicaCount (absent: KEDA's default, 100)" in origins(found)["replicas.max"]


def test_keda_1_names_its_deployment_by_deployment_name() -> None:
    found = source("keda-v1").find("Deployment/rabbitmq-consumer", "service")
    assert (facts(found)["replicas.min"], facts(found)["replicas.max"]) == (1, 30)
    assert origins(found)["replicas.max"] == "ScaledObject/rabbitmq-consumer spec.maxReplicaCount, keda-v1/deploy-consumer.yaml:45"


def test_a_deployment_scaled_to_zero_counts_as_one() -> None:
    found = source("handwritten").find("shop/Deployment/api", "service")
    assert facts(found)["replicas"] == 1
    assert origins(found)["replicas"] == "Deployment/api spec.replicas (0, counted as 1), handwritten/env.yaml:27"
    assert found.notes == ["Deployment/api spec.replicas is 0: counted as 1 replica, so the budget holds when it scales up"]


def test_a_deployment_without_replicas_runs_one() -> None:
    found = source("argocd").find("Deployment/argocd-server", "service")
    assert facts(found)["replicas"] == 1
    assert origins(found)["replicas"] == ("Deployment/argocd-server spec.replicas (absent: Kubernetes' default, 1), "
                                          "argocd/namespace-install.yaml:191")


# --------------------------------------------------------------------------- rollouts


def test_a_statefulset_has_replicas_and_no_surge() -> None:
    found = source("statefulset").find("StatefulSet/web", "service")
    assert facts(found) == {"replicas": 2, "max_surge": 0}
    assert origins(found) == {
        "replicas": "StatefulSet/web spec.replicas, statefulset/web.yaml:21",
        "max_surge": "StatefulSet/web (a StatefulSet replaces its pods one at a time: no surge), statefulset/web.yaml:15",
    }


def test_recreate_means_no_surge() -> None:
    found = source("argocd").find("Deployment/argocd-notifications-controller", "service")
    assert facts(found)["max_surge"] == 0
    assert origins(found)["max_surge"] == ("Deployment/argocd-notifications-controller spec.strategy.type Recreate "
                                           "(no surge), argocd/namespace-install.yaml:24")


def test_max_surge_as_an_integer_and_as_a_percentage() -> None:
    counted = source("handwritten").find("Deployment/api", "service")
    assert facts(counted)["max_surge"] == 2
    assert origins(counted)["max_surge"] == "Deployment/api spec.strategy.rollingUpdate.maxSurge, handwritten/env.yaml:31"
    written = source("kubectl-get/deployments.yaml").find("Deployment/nginx", "service")
    assert facts(written)["max_surge"] == "25%"
    assert origins(written)["max_surge"] == "Deployment/nginx spec.strategy.rollingUpdate.maxSurge, kubectl-get/deployments.yaml:26"


def test_rolling_update_without_its_parameters_surges_by_the_default() -> None:
    found = source("argocd-redis-ha").find("Deployment/argocd-redis-ha-haproxy", "service")
    assert facts(found) == {"replicas": 3, "max_surge": "25%"}
    assert origins(found)["max_surge"].endswith("argocd-redis-ha/rendered.yaml:148")  # its `strategy:` line


def test_a_replica_set_has_no_rollout_and_may_be_autoscaled() -> None:
    alone = source("replicaset/frontend.yaml").find("ReplicaSet/frontend", "service")
    assert alone.images == ("nginx",)  # what import tells a client from a datastore by
    assert facts(alone) == {"replicas": 3, "max_surge": 0}
    assert origins(alone)["max_surge"] == "ReplicaSet/frontend (a ReplicaSet has no rollout: no surge), replicaset/frontend.yaml:1"
    scaled = source("replicaset").find("ReplicaSet/frontend", "service")
    assert facts(scaled) == {"replicas.min": 3, "replicas.max": 10, "max_surge": 0}
    assert origins(scaled)["replicas.max"] == "HorizontalPodAutoscaler/frontend-scaler spec.maxReplicas, replicaset/hpa-rs.yaml:15"


def test_a_pooler_gets_replicas_and_environment_but_no_surge() -> None:
    found = source("argocd-redis-ha").find("Deployment/argocd-redis-ha-haproxy", "pooler")
    assert facts(found) == {"replicas": 3}
    assert list(found.env or {}) == ["haproxy"]


# --------------------------------------------------------------------------- environments


def test_config_map_values_come_from_the_config_map_of_the_same_render() -> None:
    src = source("kustomize-hello")
    staging = src.find("Deployment/staging-the-deployment", "service")
    assert env_values(staging, "the-container") == {"ALT_GREETING": "Have a pineapple!", "ENABLE_RISKY": "true"}
    assert str(staging.env["the-container"]["ALT_GREETING"].origin) == (  # type: ignore[index]
        "ConfigMap/staging-the-map data.altGreeting, kustomize-hello/staging.yaml:3")
    production = src.find("Deployment/production-the-deployment", "service")
    assert env_values(production, "the-container") == {"ALT_GREETING": "Good Morning!", "ENABLE_RISKY": "false"}
    assert facts(production)["replicas"] == 10


def test_config_maps_are_read_from_the_workloads_namespace() -> None:
    src = source("kustomize-hello-namespaces")
    prod = src.find("prod/Deployment/the-deployment", "service")
    staging = src.find("staging/Deployment/the-deployment", "service")
    assert env_values(prod, "the-container")["ALT_GREETING"] == "Good Morning!"
    assert env_values(staging, "the-container")["ALT_GREETING"] == "Have a pineapple!"
    assert str(staging.env["the-container"]["ENABLE_RISKY"].origin) == (  # type: ignore[index]
        "staging/ConfigMap/the-map data.enableRisky, kustomize-hello-namespaces/staging.yaml:4")
    assert (facts(prod)["replicas"], facts(staging)["replicas"]) == (10, 3)
    assert str(prod.origin) == "prod/Deployment/the-deployment, kustomize-hello-namespaces/prod.yaml:39"


def test_environment_in_kubernetes_order() -> None:
    found = source("handwritten").find("Deployment/api", "service")
    assert list(found.env or {}) == ["app", "sidecar"]  # containers only: the init container is not read
    app = env_values(found, "app")
    assert {name: app[name] for name in ("WEB_CONCURRENCY", "DB_POOL_SIZE", "APP_DB_POOL_SIZE", "DB_MAX_OVERFLOW", "WORKERS")} == {
        "WEB_CONCURRENCY": "4",  # envFrom: the ConfigMap of the Deployment's namespace (shop), not other's 99
        "DB_POOL_SIZE": "8",  # env replaces what envFrom set
        "APP_DB_POOL_SIZE": "5",  # envFrom with a prefix
        "DB_MAX_OVERFLOW": "10",  # configMapKeyRef
        "WORKERS": "4",  # $(WEB_CONCURRENCY)
    }
    assert "THREADS" not in app  # an optional key that is absent leaves the variable unset
    assert "INIT_ONLY" not in app
    assert str(found.env["app"]["DB_MAX_OVERFLOW"].origin) == "shop/ConfigMap/api-config data.pool.overflow, handwritten/env.yaml:11"  # type: ignore[index]
    assert str(found.env["app"]["DB_POOL_SIZE"].origin) == "Deployment/api containers[app].env[DB_POOL_SIZE], handwritten/env.yaml:59"  # type: ignore[index]
    assert found.env_unread == {"app": ["Secret/api-secrets"]}


def test_what_planner_cannot_read_is_unknown_with_the_reason() -> None:
    app = env_values(source("handwritten").find("Deployment/api", "service"), "app")
    assert {name: app[name] for name in ("TIMEOUT", "FEATURES", "DB_PASSWORD", "POD_NAME", "CPU_LIMIT", "DSN", "FROM_SECRET")} == {
        "TIMEOUT": "? comes from ConfigMap/api-config key 'timeout', which that ConfigMap (handwritten/env.yaml:3) does not have",
        "FEATURES": "? comes from ConfigMap/feature-flags key 'all', which is not in the Kubernetes manifests planner reads",
        "DB_PASSWORD": "? comes from Secret/db key 'password', which planner does not read",
        "POD_NAME": "? is the pod's metadata.name (fieldRef), known only once the pod runs",
        "CPU_LIMIT": "? is the container's limits.cpu (resourceFieldRef), which planner does not compute",
        "DSN": "? refers to $(DB_PASSWORD), which comes from Secret/db key 'password', which planner does not read",
        "FROM_SECRET": "? refers to $(SENTRY_DSN), which may come from Secret/api-secrets (envFrom), which planner cannot read",
    }


def test_secret_values_in_real_charts_are_unknown() -> None:
    keda = source("keda").find("Deployment/order-processor", "service")
    assert env_values(keda, "order-processor") == {
        "KEDA_SERVICEBUS_AUTH_MODE": "ConnectionString",
        "KEDA_SERVICEBUS_QUEUE_CONNECTIONSTRING": "? comes from Secret/secrets-order-consumer key "
                                                  "'servicebus-connectionstring', which planner does not read",
        "KEDA_SERVICEBUS_QUEUE_NAME": "orders",
    }
    redis = source("argocd-redis-ha").find("StatefulSet/argocd-redis-ha-server", "service")
    assert list(redis.env or {}) == ["redis", "sentinel", "split-brain-fix"]
    assert isinstance(redis.env["split-brain-fix"]["AUTH"], Unknown)  # type: ignore[index]
    assert env_values(redis, "split-brain-fix")["SENTINEL_ID_0"] == "3c0d9c0320bb34888c2df5757c718ce6ca992ce6"


def test_optional_keys_of_an_empty_config_map_are_unset() -> None:
    controller = source("argocd").find("StatefulSet/argocd-application-controller", "service")
    assert env_values(controller, "argocd-application-controller") == {
        "REDIS_PASSWORD": "? comes from Secret/argocd-redis key 'auth', which planner does not read",
        "ARGOCD_CONTROLLER_REPLICAS": "1",
    }


def test_dependent_variables_expand_as_the_kubernetes_documentation_says() -> None:
    sidecar = env_values(source("handwritten").find("Deployment/api", "service"), "sidecar")
    assert sidecar["SERVICE_ADDRESS"] == "https://172.17.0.1:80"
    assert sidecar["UNCHANGED_REFERENCE"] == "$(PROTOCOL)://172.17.0.1:80"  # PROTOCOL is defined after it
    assert sidecar["ESCAPED_REFERENCE"] == "$(PROTOCOL)://172.17.0.1:80"  # $$ is a literal $


@pytest.mark.parametrize(("text", "expanded"), [
    ("$(A)-$(B)", "1-$(B)"),
    ("$$(A)", "$(A)"),
    ("$$$(A)", "$1"),
    ("$(A", "$(A"),
    ("cost: 5$", "cost: 5$"),
    ("$x$(A)", "$x1"),
    ("$()", "$()"),
    ("", ""),
])
def test_expansion_follows_kubernetes(text: str, expanded: str) -> None:
    assert expand(text, {"A": "1"}.get) == expanded


# --------------------------------------------------------------------------- files

def test_json_and_kubectl_lists_are_read() -> None:
    for path, line in (("kubectl-get/deployments.yaml", 3), ("kubectl-get/deployments.json", 4)):
        found = source(path).find("default/Deployment/nginx", "service")
        assert facts(found) == {"replicas": 1, "max_surge": "25%"}, path
        assert str(found.origin) == f"Deployment/nginx, {path}:{line}"
    guestbook = source("guestbook").find("Deployment/guestbook-ui", "service")
    assert env_values(guestbook, "guestbook-ui") == {"VAR1": "something"}
    assert origins(guestbook)["replicas"] == "Deployment/guestbook-ui spec.replicas, guestbook/deployment-config.json:12"


def test_documents_that_are_not_objects_are_skipped(copied: Path) -> None:
    (copied / "mixed.yaml").write_text(
        "# Source: chart/templates/empty.yaml\n---\n---\nreplicaCount: 3\n---\n- a list\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 4}\n")
    found = source("mixed.yaml").find("Deployment/web", "service")
    assert facts(found)["replicas"] == 4 and str(found.origin) == "Deployment/web, mixed.yaml:8"


def test_names_are_the_shortest_references() -> None:
    assert source("kustomize-hello-namespaces", "argocd-redis-ha").names("service") == [
        "prod/Deployment/the-deployment", "staging/Deployment/the-deployment",
        "Deployment/argocd-redis-ha-haproxy", "StatefulSet/argocd-redis-ha-server"]
    # a pooler is what the manifests declare one (a CloudNativePG Pooler); a PgBouncer Deployment is a
    # service to names(), and the recogniser tells it from its image
    assert source("argocd").names("pooler") == []
    assert source("argocd").names("database") == []


def test_every_file_problem_at_once_with_its_line(copied: Path) -> None:
    (copied / "statefulset" / "web.yaml").write_text("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: [web\n")
    (copied / "kustomize-hello" / "broken.json").write_text('{"apiVersion": "v1",\n "kind": "ConfigMap"\n "data": {}\n}\n')
    found = problems("statefulset", "kustomize-hello")
    # the YAML library words what is wrong; planner says where, and that the file is not YAML
    assert [line.split(": invalid YAML: ")[0] for line in found] == ["statefulset/web.yaml:5", "kustomize-hello/broken.json:3"]
    assert len(found) == 2


def test_the_same_object_twice_names_both_places() -> None:
    assert problems("kubectl-get") == [
        "kubectl-get/deployments.yaml:3: default/Deployment/nginx is defined twice: here and at "
        "kubectl-get/deployments.json:4 (remove one, or render each environment with its own namespace)"]
    # the Kubernetes walkthrough's HPA, as v1 and as v2: one duplicate, not also two autoscalers
    assert problems("hpa-walkthrough") == [
        "hpa-walkthrough/hpa-v2.yaml:2: HorizontalPodAutoscaler/php-apache is defined twice: here and at "
        "hpa-walkthrough/hpa-v1.yaml:1 (remove one, or render each environment with its own namespace)"]


def test_the_same_name_in_two_namespaces_is_no_duplicate() -> None:
    assert len(source("kustomize-hello-namespaces").names("service")) == 2


def test_two_autoscalers_on_one_workload(copied: Path) -> None:
    edit(copied / "hpa-walkthrough" / "hpa-v1.yaml", "  name: php-apache\nspec", "  name: php-apache-cpu\nspec")
    assert problems("hpa-walkthrough") == [
        "hpa-walkthrough/hpa-v2.yaml:2: Deployment/php-apache is scaled by both HorizontalPodAutoscaler/php-apache-cpu "
        "(hpa-walkthrough/hpa-v1.yaml:1) and HorizontalPodAutoscaler/php-apache (here) (Kubernetes lets one autoscaler "
        "scale a workload: remove one)"]


def test_an_object_planner_reads_needs_a_name(copied: Path) -> None:
    (copied / "x.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {}\n"
                                   "---\napiVersion: v1\nkind: Service\nmetadata: {}\n")
    assert problems("x.yaml") == [  # a Secret is not read; a Service is (its host names)
        "x.yaml:5: a Deployment without metadata.name (Kubernetes refuses an object without a name: render the manifests again)",
        "x.yaml:9: a Service without metadata.name (Kubernetes refuses an object without a name: render the manifests again)"]


# --------------------------------------------------------------------------- references


def test_ambiguous_names_need_their_namespace() -> None:
    src = source("kustomize-hello-namespaces")
    assert ref_error(src, "Deployment/the-deployment") == (
        "Deployment/the-deployment is in several namespaces (write prod/Deployment/the-deployment or "
        "staging/Deployment/the-deployment)")
    assert ref_error(src, "dev/Deployment/the-deployment") == (
        "no Deployment 'the-deployment' in namespace 'dev' (write prod/Deployment/the-deployment or "
        "staging/Deployment/the-deployment)")


def test_an_object_without_a_namespace_matches_any() -> None:
    src = source("kustomize-hello-namespaces", "kustomize-hello/base.yaml")
    assert str(src.find("dev/Deployment/the-deployment", "service").origin) == "Deployment/the-deployment, kustomize-hello/base.yaml:27"
    assert str(src.find("prod/Deployment/the-deployment", "service").origin).endswith("kustomize-hello-namespaces/prod.yaml:39")
    assert ref_error(src, "Deployment/the-deployment") == (
        "Deployment/the-deployment is in several namespaces (write prod/Deployment/the-deployment or "
        "staging/Deployment/the-deployment; give the one at kustomize-hello/base.yaml:27 a metadata.namespace)")


def test_bad_references_say_what_exists() -> None:
    src = source("helm-create-hpa", "statefulset")
    assert ref_error(src, "Deployment/chartsnap-ap1") == (
        "no Deployment named 'chartsnap-ap1' in the Kubernetes manifests (did you mean 'chartsnap-app1'?)")
    assert ref_error(src, "Deployment/zzz") == "no Deployment named 'zzz' in the Kubernetes manifests (Deployments: chartsnap-app1)"
    assert ref_error(src, "ReplicaSet/web") == (  # the right name, the wrong kind
        "no ReplicaSet named 'web' in the Kubernetes manifests (did you mean 'StatefulSet/web'?)")
    assert ref_error(src, "StatefulSet/zzz") == (
        "no StatefulSet named 'zzz' in the Kubernetes manifests (StatefulSets: web)")
    assert ref_error(source("statefulset"), "Deployment/zzz") == (
        "no Deployment named 'zzz' in the Kubernetes manifests (the workloads are StatefulSet/web)")
    assert ref_error(src, "Deploymnet/web") == "no kind 'Deploymnet' in the Kubernetes manifests (did you mean 'Deployment'?)"
    assert ref_error(src, "HorizontalPodAutoscaler/chartsnap-app1") == (
        "HorizontalPodAutoscaler/chartsnap-app1 is not a workload (write from: Deployment/chartsnap-app1, the workload it scales)")
    assert ref_error(src, "Service/nginx") == (
        "Service/nginx is not a workload: replicas and environment come from a Deployment, StatefulSet, ReplicaSet, "
        "DaemonSet, Job, CronJob or Rollout (name a Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob or Rollout)")
    assert ref_error(src, "Pod/chartsnap-app1-test-connection") .startswith("Pod/chartsnap-app1-test-connection is not a workload")
    assert ref_error(src, "StatefulSet/web", "database") == (
        "StatefulSet/web runs no PostgreSQL server planner knows (images: registry.k8s.io/nginx-slim:0.7) (name the "
        "workload that runs PostgreSQL, or write the database's keys (engine: self-managed, parameters: "
        "{max_connections: N}) without from:)")


# --------------------------------------------------------------------------- through the CLI

TOPOLOGY = (FIXTURES / "e2e" / "shop.yaml").read_text()  # the topology beside e2e/rendered/


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A topology beside its rendered manifests, run from its folder as a user would."""
    shutil.copytree(FIXTURES / "e2e" / "rendered", tmp_path / "rendered")
    (tmp_path / "shop.yaml").write_text(TOPOLOGY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*args: str) -> tuple[int, str, str]:
    code, out, err = run_cli(["check", "shop.yaml", *args])
    assert "Traceback" not in err
    return code, out, err


def errors() -> list[str]:
    """Run check on a topology it must refuse; return its stderr lines without the "planner: " prefix."""
    return refusal(["check", "shop.yaml"])


def test_check_reads_the_manifests(shop: Path) -> None:
    code, out, err = check()
    assert code == 0, out + err
    topology = load_topology("shop.yaml")
    web, worker = topology.services["web"], topology.services["worker"]
    assert (web.replicas_min, web.replicas_max, web.processes) == (2, 10, 2)
    assert (web.pool.size, web.pool.max_overflow) == (5, 10)  # type: ignore[union-attr]
    assert (worker.replicas_min, worker.replicas_max) == (1, 10)
    provenance = {path: sourced.origin for path, sourced in topology.provenance.items()}
    assert provenance["services.web.replicas.max"] == "HorizontalPodAutoscaler/shop-web spec.maxReplicas, rendered/web.yaml:131"
    assert provenance["services.web.processes"] == (
        "WEB_CONCURRENCY = '2' ← ConfigMap/shop-web-env data.WEB_CONCURRENCY, rendered/web.yaml:27")
    assert topology.source_notes["services.worker"] == (
        "ScaledObject/order-processor-scaler has no spec.minReplicaCount, so KEDA's default 0 applies: counted as 1 "
        "replica, so the budget holds when it scales up",)


def test_raising_the_hpa_maximum_in_the_manifest_fails_check(shop: Path) -> None:
    assert check()[0] == 0  # rollout (10 + 3) × 2 × 15 + 26 = 416 ≤ alarm 480
    edit(shop / "rendered" / "web.yaml", "  maxReplicas: 10\n", "  maxReplicas: 30\n")
    code, out, _ = check()
    assert code == 1, out  # (30 + 8) × 2 × 15 + 26 = 1166 > usable 595
    assert "over" in out.lower()


def test_raising_the_surge_in_the_manifest_fails_check(shop: Path) -> None:
    edit(shop / "rendered" / "web.yaml", "      maxSurge: 25%\n", "      maxSurge: 100%\n")
    code, out, _ = check()
    assert code == 1, out  # (10 + 10) × 2 × 15 + 26 = 626 > usable 595


def test_a_recreate_rollout_in_the_manifest_lowers_the_demand(shop: Path) -> None:
    edit(shop / "rendered" / "web.yaml", "    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 0\n",
         "    type: Recreate\n")
    edit(shop / "rendered" / "web.yaml", "  maxReplicas: 10\n", "  maxReplicas: 16\n")
    assert check()[0] == 0  # 16 × 2 × 15 + 26 = 506 > alarm 480 but ≤ usable 595: a warning, no surge
    edit(shop / "rendered" / "web.yaml", "    type: Recreate\n", "    type: RollingUpdate\n")
    assert check()[0] == 1  # the default 25% surge: (16 + 4) × 2 × 15 + 26 = 626


def test_a_secret_backed_value_asks_for_the_value_in_the_topology(shop: Path) -> None:
    edit(shop / "shop.yaml", "    processes: {env: WEB_CONCURRENCY}\n", "    processes: {env: DATABASE_URL}\n")
    assert errors() == [
        "shop.yaml:9: services.web.processes: DATABASE_URL: Deployment/shop-web containers[web].env[DATABASE_URL], "
        "rendered/web.yaml:93 comes from Secret/shop-web-db key 'url', which planner does not read "
        "(write the value in the topology instead of {env: DATABASE_URL})"]
    edit(shop / "shop.yaml", "    processes: {env: DATABASE_URL}\n", "    processes: 2\n")
    assert check()[0] == 0


def test_a_variable_an_envfrom_secret_may_set_is_asked_for(shop: Path) -> None:
    edit(shop / "rendered" / "web.yaml", "        - configMapRef:\n            name: shop-web-env\n",
         "        - configMapRef:\n            name: shop-web-env\n        - secretRef:\n            name: shop-web-secrets\n")
    edit(shop / "shop.yaml", "    processes: {env: WEB_CONCURRENCY}\n", "    processes: {env: GUNICORN_WORKERS}\n")
    assert errors() == [
        "shop.yaml:9: services.web.processes: GUNICORN_WORKERS: Deployment/shop-web, rendered/web.yaml:53 does not list "
        "GUNICORN_WORKERS, but Secret/shop-web-secrets in its envFrom may set it, and planner cannot read that "
        "(write the value in the topology instead of {env: GUNICORN_WORKERS})"]


@pytest.mark.parametrize(("change", "expected"), [
    (("from: Deployment/shop-web", "from: Deployment/shop-wbe"),
     "shop.yaml:8: services.web.from: no Deployment named 'shop-wbe' in the Kubernetes manifests "
     "(did you mean 'shop-web'?)"),
    (("from: Deployment/shop-web", "from: HorizontalPodAutoscaler/shop-web"),
     "shop.yaml:8: services.web.from: HorizontalPodAutoscaler/shop-web is not a workload "
     "(write from: Deployment/shop-web, the workload it scales)"),
    (("from: Deployment/order-processor", "from: prod/Deployment/order-processor"), None),  # no namespace: any matches
    (("pool: {driver: sqlalchemy, size: 2, max_overflow: 0}", "replicas: {min: 1, max: 4}\n    pool: {driver: sqlalchemy, size: 2, max_overflow: 0}"),
     "shop.yaml:13: services.worker.replicas.max: the topology says 4, but ScaledObject/order-processor-scaler "
     "spec.maxReplicaCount, rendered/worker.yaml:66 says 10 for replicas.max "
     "(remove the key from the topology to take the deployed value, or change the source)"),
])
def test_bad_references_and_conflicts_exit_2_with_one_line(shop: Path, change: tuple[str, str], expected: str | None) -> None:
    edit(shop / "shop.yaml", *change)
    if expected is None:
        assert check()[0] == 0
    else:
        assert errors() == [expected]


def test_ambiguous_workloads_exit_2_with_one_line(shop: Path) -> None:
    shutil.copy(shop / "rendered" / "worker.yaml", shop / "rendered" / "worker-staging.yaml")
    for file, namespace in (("worker.yaml", "prod"), ("worker-staging.yaml", "staging")):
        edit(shop / "rendered" / file, "  name: order-processor\n  labels", f"  name: order-processor\n  namespace: {namespace}\n  labels")
        edit(shop / "rendered" / file, "  name: order-processor-scaler\n", f"  name: order-processor-scaler\n  namespace: {namespace}\n")
    assert errors() == [
        "shop.yaml:12: services.worker.from: Deployment/order-processor is in several namespaces "
        "(write staging/Deployment/order-processor or prod/Deployment/order-processor)"]
    edit(shop / "shop.yaml", "from: Deployment/order-processor", "from: staging/Deployment/order-processor")
    assert check()[0] == 0


def test_bad_manifests_exit_2_with_one_line_each(shop: Path) -> None:
    shutil.copy(shop / "rendered" / "worker.yaml", shop / "rendered" / "worker-copy.yaml")
    (shop / "rendered" / "broken.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: [api\n")
    first, invalid, second = errors()  # one line each, by line number
    assert first == ("rendered/worker.yaml:1: Deployment/order-processor is defined twice: here and at "
                     "rendered/worker-copy.yaml:1 (remove one, or render each environment with its own namespace)")
    assert invalid.startswith("rendered/broken.yaml:5: invalid YAML: ")  # the rest is the YAML library's wording
    assert second == ("rendered/worker.yaml:58: ScaledObject/order-processor-scaler is defined twice: here and at "
                      "rendered/worker-copy.yaml:58 (remove one, or render each environment with its own namespace)")


def test_autoscaler_problems_exit_2_with_one_line(shop: Path) -> None:
    web = shop / "rendered" / "web.yaml"
    edit(web, "  minReplicas: 2\n  maxReplicas: 10\n", "  minReplicas: 2\n")
    assert errors() == [
        "shop.yaml:8: services.web.replicas.max: HorizontalPodAutoscaler/shop-web, rendered/web.yaml:125 has no "
        "spec.maxReplicas, which Kubernetes requires (write max in the topology, or set it in the source)"]
    edit(web, "  minReplicas: 2\n", "  minReplicas: 2\n  maxReplicas: 10\n")
    (shop / "rendered" / "keda.yaml").write_text(
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: shop-web-queue}\n"
        "spec:\n  scaleTargetRef: {name: shop-web}\n  maxReplicaCount: 50\n")
    assert errors() == [
        "rendered/web.yaml:115: Deployment/shop-web is scaled by both ScaledObject/shop-web-queue (rendered/keda.yaml:1) "
        "and HorizontalPodAutoscaler/shop-web (here) (Kubernetes lets one autoscaler scale a workload: remove one)"]


def test_a_workload_that_runs_no_postgresql_is_not_a_database(shop: Path) -> None:
    edit(shop / "shop.yaml", '  main: {instance_class: db.m6g.large, engine_version: "16.4", parameters: {max_connections: 600}}',
         '  main: {from: Deployment/shop-web, instance_class: db.m6g.large}')
    assert errors() == [
        "shop.yaml:5: databases.main.from: Deployment/shop-web runs no PostgreSQL server planner knows (images: "
        "shop/web:1.16.0) (name the workload that runs PostgreSQL, or write the database's keys (engine: "
        "self-managed, parameters: {max_connections: N}) without from:)"]
