"""The production stack on one server, as `nino deploy` runs it: Dagster's three processes against a PostgreSQL
server, each started, watched and restarted when it dies, and all stopped together.

- the code server (`dagster api grpc`) serves the code location; each run is a process of its own that it starts;
- the webserver (`dagster-webserver`) and the daemon (`dagster-daemon run`) load the location from the code server
  through `deploy/workspace.yaml`, and keep their state in the instance of `deploy/dagster.yaml` (PostgreSQL).

Secrets are read from the environment, each as `NAME` or as a file named by `NAME_FILE` (`shared/secrets.py`), and
passed on to the processes' environments only: never written to a file or printed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from nino_assets.clean.pseudonyms import KEY_VARIABLE
from nino_assets.shared.package_files import deploy_file
from nino_assets.shared.paths import DataLayout
from nino_assets.shared.secrets import UnreadableSecret, read_secret

POSTGRES_URL = "NINO_DAGSTER_POSTGRES_URL"
CODE_SERVER_HOST, CODE_SERVER_PORT = "NINO_CODE_SERVER_HOST", "NINO_CODE_SERVER_PORT"
LOCATION_NAME = "nino_stats"
STATE_FILE = "stack.json"
STOP_GRACE_SECONDS = 30


class DeploymentError(Exception):
    """The stack cannot start: a secret is missing, the database does not answer, or a process does not come up."""


def redacted(url: str) -> str:
    """A database URL as it may be printed: scheme, user, host, port and database, never the password."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


def sqlalchemy_url(url: str) -> str:
    """The URL as Dagster's storage hands it to SQLAlchemy, naming the driver installed (psycopg2): SQLAlchemy 2.1
    takes a bare `postgresql://` to mean psycopg 3."""
    scheme, separator, rest = url.partition("://")
    return f"postgresql+psycopg2://{rest}" if scheme in ("postgresql", "postgres") and separator else url


def check_database(url: str) -> None:
    """Connect once, so that a wrong URL or password is said before any process starts."""
    import psycopg2

    try:
        psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://", 1), connect_timeout=10).close()
    except psycopg2.Error as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise DeploymentError(f"cannot connect to PostgreSQL at {redacted(url)}: {reason}") from None


@dataclass(frozen=True)
class StackSettings:
    """Where the stack listens. The code server is for the webserver and daemon of this machine only, so it listens
    on loopback; the webserver does too unless told otherwise (put a proxy with the team's sign-in in front)."""

    host: str = "127.0.0.1"
    port: int = 3000
    code_server_port: int = 4266
    instance_config: Path | None = None
    """The instance file to run with; the project's `deploy/dagster.yaml` unless given."""


def _executable(name: str) -> str:
    return str(Path(sys.executable).with_name(name))  # this environment's, whatever PATH says


@dataclass
class StackProcess:
    name: str
    command: list[str]
    log: Path
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)


class Stack:
    """The three processes of one deployment, under the data folder's `deployment/` (their DAGSTER_HOME)."""

    def __init__(self, home: DataLayout, settings: StackSettings, environment: Mapping[str, str] | None = None):
        self.home, self.settings = home, settings
        source = dict(os.environ if environment is None else environment)
        try:
            postgres_url, pseudonym_key = read_secret(POSTGRES_URL, source), read_secret(KEY_VARIABLE, source)
        except UnreadableSecret as error:
            raise DeploymentError(str(error)) from None
        if not postgres_url:
            raise DeploymentError(f"{POSTGRES_URL} (or {POSTGRES_URL}_FILE) is not set: the production stack keeps its "
                                  "run history in PostgreSQL; give the server's URL, "
                                  "postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        if not pseudonym_key:
            raise DeploymentError(f"{KEY_VARIABLE} (or {KEY_VARIABLE}_FILE) is not set: production data is "
                                  "pseudonymised with the team's own key, never with the development key")
        self.postgres_url = postgres_url
        self.environment = {
            **{name: value for name, value in source.items()
               if name not in (f"{POSTGRES_URL}_FILE", f"{KEY_VARIABLE}_FILE")},
            POSTGRES_URL: sqlalchemy_url(postgres_url), KEY_VARIABLE: pseudonym_key,
            "NINO_HOME": str(home.root_path), "DAGSTER_HOME": str(home.deployment_home),
            CODE_SERVER_HOST: "127.0.0.1", CODE_SERVER_PORT: str(settings.code_server_port),
        }
        # not DAGSTER_HOME/logs: Dagster keeps its telemetry there and moves the files away
        logs = home.deployment_home / "process-logs"
        workspace = str(home.deployment_home / "workspace.yaml")
        self.processes = [
            StackProcess("code-server", [
                _executable("dagster"), "api", "grpc", "--module-name", "nino_assets.definitions",
                "--attribute", "defs", "--location-name", LOCATION_NAME,
                "--host", "127.0.0.1", "--port", str(settings.code_server_port)], logs / "code-server.log"),
            StackProcess("webserver", [
                _executable("dagster-webserver"), "-w", workspace, "--host", settings.host,
                "--port", str(settings.port)], logs / "webserver.log"),
            StackProcess("daemon", [_executable("dagster-daemon"), "run", "-w", workspace], logs / "daemon.log"),
        ]
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def prepare(self) -> None:
        """The deployment folder with its instance and workspace files, and the instance's tables made or migrated
        to this Dagster's schema."""
        from nino_assets.cli import prepare_home

        check_database(self.postgres_url)
        prepare_home(self.home)
        deployment = self.home.deployment_home
        (deployment / "process-logs").mkdir(parents=True, exist_ok=True)
        instance_config = self.settings.instance_config or deploy_file("dagster.yaml")
        shutil.copyfile(instance_config, deployment / "dagster.yaml")
        shutil.copyfile(deploy_file("workspace.yaml"), deployment / "workspace.yaml")
        migrated = subprocess.run([_executable("dagster"), "instance", "migrate"], env=self.environment,
                                  capture_output=True, text=True)
        if migrated.returncode:
            raise DeploymentError(f"`dagster instance migrate` failed on {redacted(self.postgres_url)}:\n"
                                  + migrated.stderr[-2000:].replace(self.environment[POSTGRES_URL], redacted(self.postgres_url)))

    def _start(self, entry: StackProcess) -> None:
        with entry.log.open("a", encoding="utf-8") as log:
            log.write(f"\n--- nino deploy starts {entry.name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            log.flush()
            # a process group of its own: stopping the code server stops the run processes it started
            entry.process = subprocess.Popen(entry.command, env=self.environment, stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True, cwd=self.home.root_path)
        print(f"started {entry.name} (pid {entry.process.pid}); its log: {entry.log}", flush=True)
        self._write_state()

    def _write_state(self) -> None:
        state = {"supervisor": os.getpid(), "webserver": self.url,
                 "code_server": f"127.0.0.1:{self.settings.code_server_port}",
                 "processes": {entry.name: entry.process.pid for entry in self.processes if entry.process}}
        path = self.home.deployment_home / STATE_FILE
        path.with_suffix(".tmp").write_text(json.dumps(state, indent=2), encoding="utf-8")
        path.with_suffix(".tmp").replace(path)

    def _code_server_answers(self) -> bool:
        return subprocess.run([_executable("dagster"), "api", "grpc-health-check", "--host", "127.0.0.1",
                               "--port", str(self.settings.code_server_port)], env=self.environment,
                              capture_output=True).returncode == 0

    def _webserver_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.settings.port}/server_info", timeout=5):
                return True
        except OSError:
            return False

    def _wait_for(self, entry: StackProcess, answers, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not answers() and not self._stopping:
            if entry.process.poll() is not None:
                raise DeploymentError(f"{entry.name} exited with code {entry.process.returncode} while starting; "
                                      f"see {entry.log}")
            if time.monotonic() > deadline:
                raise DeploymentError(f"{entry.name} did not answer within {timeout:.0f} s; see {entry.log}")
            time.sleep(1)

    def start(self) -> None:
        """The code server first (the others load from it), then the webserver and the daemon. A SIGTERM or SIGINT
        from here on stops the stack (at once while it starts), never leaving a process behind."""
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signal_number, self._request_stop)
        code_server, webserver, daemon = self.processes
        self._start(code_server)
        self._wait_for(code_server, self._code_server_answers, timeout=300)
        if self._stopping:
            return
        self._start(webserver)
        self._start(daemon)
        self._wait_for(webserver, self._webserver_answers, timeout=300)
        if self._stopping:
            return
        print(f"The production stack is up: the UI at {self.url}, run history in {redacted(self.postgres_url)}.",
              flush=True)

    def supervise(self) -> None:
        """Until stopped (SIGTERM or SIGINT): restart any process that exits, waiting longer each time one keeps
        dying (up to a minute), then stop them all."""
        try:
            while not self._stopping:
                for entry in self.processes:
                    if entry.process.poll() is None or self._stopping:
                        continue
                    now = time.monotonic()
                    entry.restarts = [moment for moment in entry.restarts if now - moment < 300] + [now]
                    delay = min(60, 2 ** (len(entry.restarts) - 1))
                    print(f"{entry.name} (pid {entry.process.pid}) exited with code {entry.process.returncode}; "
                          f"restarting it in {delay} s", flush=True)
                    self._sleep(delay)
                    if not self._stopping:
                        self._start(entry)
                self._sleep(1)
        finally:
            self.stop()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(0.2)

    def _request_stop(self, signal_number, frame) -> None:
        self._stopping = True

    def stop(self) -> None:
        """Stop the daemon and webserver, then the code server and its run processes: SIGTERM, then SIGKILL after
        a grace period."""
        for entry in reversed(self.processes):
            if entry.process is None or entry.process.poll() is not None:
                continue
            try:
                os.killpg(entry.process.pid, signal.SIGTERM)
                entry.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(entry.process.pid, signal.SIGKILL)
                entry.process.wait()
            except ProcessLookupError:
                pass
            print(f"stopped {entry.name}", flush=True)
        for entry in self.processes:  # what a group left behind (a run process that outlived its code server)
            if entry.process is not None:
                try:
                    os.killpg(entry.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        (self.home.deployment_home / STATE_FILE).unlink(missing_ok=True)
