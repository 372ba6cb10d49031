"""Which object answers at each host name of the manifests, and what is wrong in them but readable.

``hosts()`` is how a client is told from a bystander: a container whose ``DATABASE_URL`` names
``ledger-db`` talks to the StatefulSet behind that Service. ``warnings()`` says what is wrong in the
files without stopping planner from reading them. Expected values are read off the fixtures by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.topology.sources.base import External, Origin

from .test_kubernetes import _in_fixtures, copied, FIXTURES, edit, source  # noqa: F401 (the fixtures: run in the fixtures' folder, or a copy)


# --------------------------------------------------------------------------- hosts


def test_a_service_leads_to_the_workload_its_selector_picks() -> None:
    # no namespace in these manifests: a Service's short name alone (its namespace is wherever it is applied)
    assert source("bank-of-anthos").hosts() == {
        "accounts-db": "StatefulSet/accounts-db", "accounts-db-0.accounts-db": "StatefulSet/accounts-db",
        "balancereader": "Deployment/balancereader", "contacts": "Deployment/contacts", "frontend": "Deployment/frontend",
        "ledger-db": "StatefulSet/ledger-db", "ledger-db-0.ledger-db": "StatefulSet/ledger-db",
        "ledgerwriter": "Deployment/ledgerwriter", "transactionhistory": "Deployment/transactionhistory",
        "userservice": "Deployment/userservice",
    }


def test_each_name_the_clusters_dns_answers() -> None:
    assert source("pgbouncer-configmap").hosts() == {
        "staging-pgbouncer": "Deployment/staging-pgbouncer", "staging-pgbouncer.staging": "Deployment/staging-pgbouncer",
        "staging-pgbouncer.staging.svc": "Deployment/staging-pgbouncer",
        "staging-pgbouncer.staging.svc.cluster.local": "Deployment/staging-pgbouncer",
    }
    hosts = source("sourcegraph").hosts()
    assert hosts["pgsql"] == hosts["pgsql.ns-sourcegraph.svc.cluster.local"] == "StatefulSet/pgsql"
    assert hosts["sourcegraph-frontend-internal.ns-sourcegraph"] == "Deployment/sourcegraph-frontend"  # two Services, one workload
    assert hosts["codeinsights-db-0.codeinsights-db.ns-sourcegraph.svc"] == "StatefulSet/codeinsights-db"  # a pod's own name
    assert len(hosts) == 120  # 23 Services and 7 StatefulSets' pods (1 each), in four forms each: (23 + 7) x 4


def test_a_short_name_in_two_namespaces_is_left_out() -> None:
    assert source("kustomize-hello-namespaces").hosts() == {
        "the-service.prod": "prod/Deployment/the-deployment", "the-service.prod.svc": "prod/Deployment/the-deployment",
        "the-service.prod.svc.cluster.local": "prod/Deployment/the-deployment",
        "the-service.staging": "staging/Deployment/the-deployment", "the-service.staging.svc": "staging/Deployment/the-deployment",
        "the-service.staging.svc.cluster.local": "staging/Deployment/the-deployment",
    }


def test_a_database_planner_does_not_plan_answers_at_its_name_too() -> None:
    # the lead can tell a MySQL client from a PostgreSQL one: the name leads to an unplanned() object
    hosts = source("wordpress-mysql").hosts()
    assert (hosts["wordpress-mysql"], hosts["wordpress"]) == ("Deployment/wordpress-mysql", "Deployment/wordpress")


def test_operators_make_services_of_their_own() -> None:
    assert source("cnpg", "zalando").hosts() == {
        "cluster-example-full-rw": "Cluster/cluster-example-full", "cluster-example-full-ro": "Cluster/cluster-example-full",
        "cluster-example-full-r": "Cluster/cluster-example-full", "cluster-example-rw": "Cluster/cluster-example",
        "cluster-example-ro": "Cluster/cluster-example", "cluster-example-r": "Cluster/cluster-example",
        "pooler-example-rw": "Pooler/pooler-example-rw",
        "acid-test-cluster": "postgresql/acid-test-cluster", "acid-test-cluster-repl": "postgresql/acid-test-cluster",
    }


def test_an_external_name_leads_out_of_the_manifests(copied: Path) -> None:
    (copied / "bank-of-anthos" / "rds.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: ledger, namespace: bank}\nspec:\n  type: ExternalName\n"
        "  externalName: ledger.c9akciq32.eu-west-1.rds.amazonaws.com\n")
    hosts = source("bank-of-anthos").hosts()
    rds = External("ledger.c9akciq32.eu-west-1.rds.amazonaws.com",
                   Origin("Service/ledger", "bank-of-anthos/rds.yaml", 6, "spec.externalName"))
    assert hosts["ledger"] == hosts["ledger.bank.svc.cluster.local"] == rds
    assert hosts["ledger-db"] == "StatefulSet/ledger-db"  # a reference, as before: the two are told apart by type


def test_a_selector_over_several_workloads_leads_to_the_database(copied: Path) -> None:
    (copied / "bank-of-anthos" / "any-db.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: any-db}\nspec:\n  selector: {tier: db}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: primary}\nspec:\n"
        "  selector: {cnpg.io/cluster: cluster-example, cnpg.io/instanceRole: primary}\n")
    shutil.copy(copied / "cnpg" / "cluster-example.yaml", copied / "bank-of-anthos")
    hosts = source("bank-of-anthos").hosts()
    assert hosts["any-db"] == "StatefulSet/accounts-db"  # both databases carry tier=db: the first in the files
    assert hosts["primary"] == "Cluster/cluster-example"  # the operator's pods carry the cluster's label


# --------------------------------------------------------------------------- warnings


def test_an_autoscaler_whose_target_is_in_no_manifest() -> None:
    assert source("hpa-walkthrough/hpa-v1.yaml").warnings() == [
        "HorizontalPodAutoscaler/php-apache (hpa-walkthrough/hpa-v1.yaml:1) scales Deployment/php-apache "
        "(spec.scaleTargetRef, hpa-walkthrough/hpa-v1.yaml:6), which is in none of the manifests: the replicas it sets "
        "are read from nowhere"]
    assert source("keda/deploy-autoscaling.yaml").warnings() == [
        "ScaledObject/order-processor-scaler (keda/deploy-autoscaling.yaml:20) scales Deployment/order-processor "
        "(spec.scaleTargetRef, keda/deploy-autoscaling.yaml:25), which is in none of the manifests: the replicas it sets "
        "are read from nowhere"]
    assert source("hpa-walkthrough/hpa-v1.yaml", "hpa-walkthrough/php-apache.yaml").warnings() == []


def test_an_autoscaler_of_a_kind_no_autoscaler_scales(copied: Path) -> None:
    edit(copied / "hpa-walkthrough" / "hpa-v1.yaml", "    kind: Deployment\n    name: php-apache\n",
         "    kind: DaemonSet\n    name: otel-collector-agent\n")
    assert source("hpa-walkthrough/hpa-v1.yaml", "otel-demo/opentelemetry-collector").warnings() == [
        "HorizontalPodAutoscaler/php-apache (hpa-walkthrough/hpa-v1.yaml:1) scales DaemonSet/otel-collector-agent "
        "(spec.scaleTargetRef, hpa-walkthrough/hpa-v1.yaml:6), which is a DaemonSet: no autoscaler can scale it, so "
        "HorizontalPodAutoscaler/php-apache does nothing"]


def test_replicas_beside_an_autoscaler_are_reset_by_every_apply(copied: Path) -> None:
    edit(copied / "hpa-walkthrough" / "php-apache.yaml", "spec:\n  selector:\n", "spec:\n  replicas: 3\n  selector:\n")
    assert source("hpa-walkthrough/php-apache.yaml", "hpa-walkthrough/hpa-v1.yaml").warnings() == [
        "Deployment/php-apache sets spec.replicas 3 (hpa-walkthrough/php-apache.yaml:6) and HorizontalPodAutoscaler/php-apache "
        "(hpa-walkthrough/hpa-v1.yaml:1) scales it: every apply resets it to 3 until the autoscaler scales it again; remove "
        "spec.replicas (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/"
        "#migrating-deployments-and-statefulsets-to-horizontal-autoscaling)"]


def test_a_pooler_of_a_cluster_in_no_manifest() -> None:
    assert source("cnpg/pooler-external.yaml").warnings() == [
        "Pooler/pooler-example-rw (cnpg/pooler-external.yaml:1) pools Cluster/cluster-example (spec.cluster.name, "
        "cnpg/pooler-external.yaml:7), which is in none of the manifests"]
    assert source("cnpg").warnings() == []


def test_a_config_map_key_the_volume_needs_and_the_config_map_lacks() -> None:
    assert source("handwritten/volumes.yaml").warnings() == [
        "shop/Deployment/bouncer (handwritten/volumes.yaml:27) mounts key 'missing.ini' of shop/ConfigMap/bouncer-config "
        "(handwritten/volumes.yaml:1), which has no such key: Kubernetes does not start its pods"]


def test_services_and_selectors_that_match_nothing(copied: Path) -> None:
    edit(copied / "wordpress-mysql" / "wordpress-deployment.yaml", "        app: wordpress\n        tier: frontend\n    spec:\n",
         "        app: wordpress\n        tier: web\n    spec:\n")
    assert source("wordpress-mysql").warnings() == [
        "Service/wordpress (wordpress-mysql/wordpress-deployment.yaml:10) selects app=wordpress, tier=frontend, which no "
        "workload of the manifests carries: what connects to it cannot be traced to a workload",
        "Deployment/wordpress (wordpress-mysql/wordpress-deployment.yaml:35) selects pods its own template does not label "
        "(app=wordpress, tier=frontend): Kubernetes refuses it"]


def test_a_rollout_whose_workload_is_in_no_manifest(copied: Path) -> None:
    text = (copied / "argo-rollouts" / "workload-ref.yaml").read_text()
    (copied / "argo-rollouts" / "workload-ref.yaml").write_text(text.split("---\n", 1)[1])
    src = source("argo-rollouts/workload-ref.yaml")
    assert src.warnings() == [
        "Rollout/rollout-ref-deployment (argo-rollouts/workload-ref.yaml:1) takes its pods from Deployment/rollout-ref-deployment "
        "(spec.workloadRef, argo-rollouts/workload-ref.yaml:7), which is in none of the manifests: planner cannot read its "
        "containers"]
    assert src.find("Rollout/rollout-ref-deployment", "service").containers == ()


def test_real_manifests_have_no_warnings() -> None:
    for path in ("sourcegraph", "otel-demo", "bank-of-anthos", "argo-rollouts", "e2e/rendered", "helm-create-hpa", "statefulset"):
        assert source(path).warnings() == [], path
