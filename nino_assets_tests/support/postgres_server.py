"""A real PostgreSQL server for a test: Debian's `postgresql` binaries, `initdb` into a new temporary folder, with a
password, listening on loopback only, stopped and removed at the end.

PostgreSQL refuses to run as root, so under root (as in CI) the server runs as Debian's `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nino_assets_tests.support.network import free_port

USER, DATABASE = "nino", "dagster"


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL's server binaries are not installed (Debian's package `postgresql`; "
                           "`make test` installs it)")
    return found[-1].parent


@dataclass
class PostgresServer:
    folder: Path
    port: int
    password: str
    process_owner: str | None

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.process_owner, "--"] if self.process_owner else []
        return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True)

    @classmethod
    def start(cls) -> PostgresServer:
        binaries = _binaries()
        folder = Path(tempfile.mkdtemp(prefix="nino-postgres-"))
        owner = "postgres" if os.geteuid() == 0 else None
        server = cls(folder, free_port(), secrets.token_hex(12), owner)
        password_file = folder / "password"
        password_file.write_text(server.password + "\n", encoding="utf-8")
        if owner:
            account = pwd.getpwnam(owner)
            for path in (folder, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        server._run(str(binaries / "initdb"), "-D", str(server.data), "-U", USER, f"--pwfile={password_file}",
                    "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync")
        password_file.unlink()
        # TCP on 127.0.0.1 only; the Unix socket in the server's own folder, not the system's
        options = f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={folder} -c fsync=off"
        server._run(str(binaries / "pg_ctl"), "-D", str(server.data), "-o", options, "-l", str(folder / "server.log"),
                    "-w", "-t", "120", "start")
        import psycopg2

        connection = psycopg2.connect(server.url.rsplit("/", 1)[0] + "/postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        connection.close()
        return server

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def stop(self) -> None:
        if not self.data.exists():
            return  # stopped already
        try:
            self._run(str(_binaries() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
