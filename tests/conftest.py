"""Fixtures shared by every part's tests: a throwaway PostgreSQL server, a clean `__main__`.

The progress store and the workshop store promise to work on any SQLAlchemy URL, PostgreSQL
included, so the suite starts a real server (Debian's `postgresql`, installed by
`.ci/system-deps`; tests/postgres_server.py) on a Unix socket in a temporary folder, one per test
worker, and gives each test a fresh database on it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres_server import PostgresMissing, create_database, drop_database, throwaway_server


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """Streamlit's AppTest installs a page script as `__main__` and leaves it there; a process
    pool started later in the same worker (the grader's) would re-run that page in every child."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL server for this test worker; yields its admin URL."""
    try:
        with throwaway_server(max_connections=200) as admin_url:
            yield admin_url
    except PostgresMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the worker's server; dropped after the test."""
    url = create_database(postgres_server)
    try:
        yield url
    finally:
        drop_database(postgres_server, url)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep `--dist loadgroup` working: pytest-xdist names a test's `xdist_group` by suffixing its
    node id (`test@group`), but it sets `item._nodeid`, which pytest 9 no longer reads (node ids come
    from `item._id`). Without the suffix every grouped test is scheduled on its own, and a module
    that grades a class once per session waits for the other worker instead of going on."""
    if not getattr(config.option, "loadgroup", False):    # set in xdist workers only
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:                                   # pytest < 9: xdist's own suffix works
        return
    for item in items:
        names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                        for mark in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")
