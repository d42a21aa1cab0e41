"""The deployment files that cannot be run here (no Docker engine, no Kubernetes cluster, no helm), checked as far as
Dagster's own validation reaches: each instance against Dagster's instance schema and its classes' configuration
schemas, every policy equal to the one-machine instance's, and the code server started as `nino deploy` starts it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer, convert_dagster_submodule_name

from nino_assets.clean.pseudonyms import KEY_VARIABLE
from nino_assets.deploy.stack import POSTGRES_URL, Stack, StackSettings
from nino_assets.shared.paths import DataFolder

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
POLICIES = ("run_coordinator", "concurrency", "run_monitoring", "run_retries", "retention", "telemetry")
"""What every deployment of the project must agree on; only storage and the run launcher differ by platform."""


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def validated_instance(folder: Path, monkeypatch) -> dict:
    """The instance file in `folder` as Dagster loads it, and each class it names configured as that class takes."""
    monkeypatch.setenv(POSTGRES_URL, "postgresql+psycopg2://nino:secret@127.0.0.1:5432/dagster")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "secret")
    config, _ = dagster_instance_config(str(folder))
    for part in ("run_launcher", "run_coordinator"):
        named = config[part]
        # Dagster reads its public module names (`dagster.core...`) as its private ones, as here
        configurable = class_from_code_pointer(convert_dagster_submodule_name(named["module"], "private"),
                                               named["class"])
        processed = process_config(configurable.config_type(), named.get("config") or {})
        assert processed.success, (folder, part, [error.message for error in processed.errors])
    [(kind, storage)] = config["storage"].items()
    from dagster_postgres import DagsterPostgresStorage

    assert kind == "postgres"
    assert process_config(DagsterPostgresStorage.config_type(), storage).success
    return config


def test_the_one_machine_instance_is_valid_and_names_the_monitored_launcher(monkeypatch):
    config = validated_instance(DEPLOY, monkeypatch)
    assert config["run_launcher"]["class"] == "MonitoredRunLauncher"
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "run"}
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False
    text = (DEPLOY / "dagster.yaml").read_text(encoding="utf-8")
    assert "password" not in text.lower().replace("the database password", "")
    assert _yaml(DEPLOY / "dagster.yaml")["storage"]["postgres"]["postgres_url"] == {"env": POSTGRES_URL}


def test_the_docker_instance_differs_only_in_its_run_launcher(monkeypatch):
    config = validated_instance(DEPLOY / "docker", monkeypatch)
    one_machine = _yaml(DEPLOY / "dagster.yaml")
    docker = _yaml(DEPLOY / "docker" / "dagster.yaml")
    assert docker["run_launcher"]["class"] == "DockerRunLauncher"
    assert {part: docker[part] for part in (*POLICIES, "storage")} == {
        part: one_machine[part] for part in (*POLICIES, "storage")}
    compose = _yaml(DEPLOY / "docker" / "compose.yaml")
    environment = compose["x-nino"]["environment"]
    assert set(config["run_launcher"]["config"]["env_vars"]) <= set(environment)  # runs get what the stack has
    assert all(value.startswith("${") for name, value in environment.items() if name != "NINO_HOME")  # no secrets
    [volume] = config["run_launcher"]["config"]["container_kwargs"]["volumes"]
    assert volume.split(":")[0] == compose["volumes"]["nino_data"]["name"]
    assert config["run_launcher"]["config"]["network"] == compose["networks"]["nino_stats"]["name"]


def _code_server_arguments() -> list[str]:
    """The code server's arguments, as `nino deploy` starts it (without where it listens)."""
    stack = Stack(DataFolder(Path("/nonexistent")), StackSettings(),
                  environment={POSTGRES_URL: "postgresql://u:p@127.0.0.1/d", KEY_VARIABLE: "k"})
    command = stack.processes[0].command
    return command[command.index("grpc") + 1:command.index("--host")]


def test_the_dockerfile_copies_what_exists_and_starts_the_code_server_as_nino_deploy_does():
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), source
    command = re.search(r'^CMD \[(.*?)\]$', dockerfile.replace("\\\n", ""), flags=re.MULTILINE | re.DOTALL).group(1)
    arguments = [part.strip().strip('"') for part in command.split(",")]
    assert arguments[:3] == ["dagster", "api", "grpc"]
    assert arguments[3:arguments.index("--host")] == _code_server_arguments()
    workspace = _yaml(DEPLOY / "docker" / "workspace.yaml")["load_from"][0]["grpc_server"]
    assert workspace["port"] == int(arguments[arguments.index("--port") + 1])
    assert workspace["host"] in _yaml(DEPLOY / "docker" / "compose.yaml")["services"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def instance_from_helm_values(values: dict) -> dict:
    """The instance the chart renders from these values (its `configmap-instance.yaml`), for the parts set here."""
    database = values["postgresql"]
    daemon = values["dagsterDaemon"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    concurrency = values["concurrency"]
    return {
        "storage": {"postgres": {"postgres_db": {
            "username": database["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": database["postgresqlHost"], "db_name": database["postgresqlDatabase"],
            "port": database["service"]["port"], "params": database.get("postgresqlParams", {})}}},
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": daemon["runCoordinator"]["type"]},
        "run_launcher": {"module": "dagster_k8s", "class": values["runLauncher"]["type"], "config": {
            "load_incluster_config": launcher["loadInclusterConfig"], "image_pull_policy": launcher["imagePullPolicy"],
            "env_secrets": [secret["name"] for secret in launcher["envSecrets"]], "env_vars": launcher["envVars"],
            "volumes": launcher["volumes"], "volume_mounts": launcher["volumeMounts"],
            "resources": launcher["resources"], "instance_config_map": "nino-stats-instance",
            "service_account_name": "nino-stats", "dagster_home": "/opt/dagster/dagster_home",
            "postgres_password_secret": values["global"]["postgresqlSecretName"],
            "run_k8s_config": {_snake(key): value for key, value in launcher["runK8sConfig"].items()}}},
        "concurrency": {"pools": {_snake(key): value for key, value in concurrency["pools"].items()},
                        "runs": {_snake(key): value for key, value in concurrency["runs"].items()}},
        "run_monitoring": {_snake(key): value for key, value in daemon["runMonitoring"].items()},
        "run_retries": {_snake(key): value for key, value in daemon["runRetries"].items()},
        "retention": {kind: {"purge_after_days": values["retention"][kind]["purgeAfterDays"]}
                      for kind in ("schedule", "sensor")},
        "telemetry": values["telemetry"],
    }


def test_the_helm_values_render_a_valid_instance_with_the_same_policies(tmp_path, monkeypatch):
    values = _yaml(DEPLOY / "helm" / "values.yaml")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance_from_helm_values(values)), encoding="utf-8")
    config = validated_instance(tmp_path, monkeypatch)
    one_machine = _yaml(DEPLOY / "dagster.yaml")
    assert {part: config[part] for part in POLICIES if part != "run_coordinator"} == {
        part: one_machine[part] for part in POLICIES if part != "run_coordinator"}
    assert config["run_coordinator"]["class"] == one_machine["run_coordinator"]["class"]
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == _code_server_arguments()
    assert {secret["name"] for secret in deployment["envSecrets"]} == set(
        config["run_launcher"]["config"]["env_secrets"])
    run_node = config["run_launcher"]["config"]["run_k8s_config"]["pod_spec_config"]["nodeSelector"]
    assert run_node == deployment["nodeSelector"]  # runs on the node that holds the DuckDB file
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert not re.search(r"(?i)password:\s*\S", (DEPLOY / "helm" / "values.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("missing", [POSTGRES_URL, KEY_VARIABLE])
def test_the_stack_refuses_to_start_without_its_secrets(missing):
    from nino_assets.deploy.stack import DeploymentError

    environment = {POSTGRES_URL: "postgresql://u:p@127.0.0.1/d", KEY_VARIABLE: "k"}
    del environment[missing]
    with pytest.raises(DeploymentError, match=f"{missing} \\(or {missing}_FILE\\) is not set"):
        Stack(DataFolder(Path("/nonexistent")), StackSettings(), environment=environment)
    with pytest.raises(DeploymentError, match=f"{missing}_FILE names /nonexistent/secret, which cannot be read"):
        Stack(DataFolder(Path("/nonexistent")), StackSettings(),
              environment={**environment, f"{missing}_FILE": "/nonexistent/secret"})


def test_a_secret_is_read_from_its_file_and_the_database_url_is_never_printed_with_its_password(tmp_path):
    from nino_assets.deploy.stack import DeploymentError, check_database, redacted, sqlalchemy_url
    from nino_assets.shared.secrets import UnreadableSecret, read_secret
    from nino_assets_tests.support.network import free_port

    secret_file = tmp_path / "url"
    secret_file.write_text("postgresql://nino:s3cret@127.0.0.1:5432/dagster\n", encoding="utf-8")
    assert read_secret(POSTGRES_URL, {f"{POSTGRES_URL}_FILE": str(secret_file), POSTGRES_URL: "ignored"}) == (
        "postgresql://nino:s3cret@127.0.0.1:5432/dagster")
    with pytest.raises(UnreadableSecret, match=f"{POSTGRES_URL}_FILE names .*missing, which cannot be read"):
        read_secret(POSTGRES_URL, {f"{POSTGRES_URL}_FILE": str(tmp_path / "missing")})
    assert redacted("postgresql://nino:s3cret@db.example:5433/dagster") == "postgresql://nino@db.example:5433/dagster"
    assert sqlalchemy_url("postgresql://nino:s3cret@db/dagster") == "postgresql+psycopg2://nino:s3cret@db/dagster"
    closed = f"postgresql://nino:s3cret@127.0.0.1:{free_port()}/dagster"  # nothing listens there
    with pytest.raises(DeploymentError) as refused:
        check_database(closed)
    assert "cannot connect to PostgreSQL at postgresql://nino@127.0.0.1:" in str(refused.value)
    assert "s3cret" not in str(refused.value)
