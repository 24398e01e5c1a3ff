"""A throwaway PostgreSQL server (Debian's `postgresql` package) for the tests and `vigil bench store`.

initdb and pg_ctl refuse to run as root, and CI runs as root: there they run as the `postgres`
user (`runuser -u postgres --`) in a temporary directory that user owns. The server listens on
127.0.0.1:VIGIL_TEST_PG_PORT (default 15432) with trust authentication for local connections,
fsync off (it is thrown away), and is stopped and deleted when the session ends.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEFAULT_PORT = 15432
USER = "vigil"


def pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL's initdb not found: install Debian's postgresql (`apt-get install -y postgresql`, "
                "as .ci/run does); the store's tests run against a real PostgreSQL server")


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class PostgresServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.bindir = pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def start(self) -> None:
        if port_in_use(self.port):
            raise RuntimeError(f"127.0.0.1:{self.port} is taken: set VIGIL_TEST_PG_PORT to a free port for the test "
                        "PostgreSQL server")
        out = self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "--encoding=UTF8",
                        "--locale=C.UTF-8", "--no-sync")
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed: {out.stdout[-1500:]}{out.stderr[-1500:]}")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=60 -c shared_buffers=128MB")
        out = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")
        if out.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {out.stdout[-1000:]}{out.stderr[-1000:]}\n{log}")
        deadline = time.monotonic() + 30
        while not port_in_use(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not listen within 30 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


def configured_port() -> int:
    return int(os.environ.get("VIGIL_TEST_PG_PORT") or DEFAULT_PORT)
