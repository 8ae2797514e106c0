import pytest

from .helpers import FIXTURES


def pytest_configure(config):
    if not FIXTURES.is_dir():
        raise pytest.UsageError(
            f"the recorded fixtures are missing: {FIXTURES} "
            "(set PIW_SHARED to the shared folder, or restore tests/fixtures)")


@pytest.fixture
def ipc_addrs(tmp_path):
    """A private pair of ipc addresses (status, control) for one test."""
    return f"ipc://{tmp_path}/status", f"ipc://{tmp_path}/control"
