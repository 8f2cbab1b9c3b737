"""A throw-away PostgreSQL server (Debian's `postgresql`, installed by `make system-deps`) for the
test suite's fixture and for benchmarks/workshop.py --replicas: a Unix socket in a temporary
folder, no TCP port, removed with everything it wrote when the block ends."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

NOT_INSTALLED = "PostgreSQL is not installed: run `make system-deps` (installs Debian's postgresql)"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_binaries() -> Path | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; as root, run it as the `postgres` system user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def throwaway_server(max_connections: int = 200, prefix: str = "theater-pg-") -> Iterator[str]:
    """Start a server for this block only; yields its admin URL (SQLAlchemy, psycopg)."""
    bindir = server_binaries()
    if bindir is None:
        raise PostgresMissing(NOT_INSTALLED)
    root = Path(tempfile.mkdtemp(prefix=prefix))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        root.chmod(0o755)
    try:
        subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                                        "postgres", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True)
        options = f"-k {sockets} -c listen_addresses='' -c fsync=off -c max_connections={max_connections}"
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
                                        str(root / "server.log"), "start"]),
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@/postgres?host={sockets}"
    finally:
        if data.is_dir():
            subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                            "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _as_admin(admin_url: str, statement: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def create_database(admin_url: str, prefix: str = "t_") -> str:
    """A new empty database on the server; returns its URL."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    _as_admin(admin_url, f'CREATE DATABASE "{name}"')
    return admin_url.replace("/postgres?", f"/{name}?")


def drop_database(admin_url: str, url: str) -> None:
    name = url.split("/")[-1].split("?")[0]
    _as_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
