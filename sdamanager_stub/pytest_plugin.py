"""The ``sdamanager`` pytest fixture: a real SDAManager simulator per test, for any project.

Installed with this package (entry point ``pytest11``), so a project that
depends on ``moreh-smclient`` needs no conftest.py lines::

    def test_my_tool_lists_tokens(sdamanager):
        sdamanager.admin.run("create token alice 10")
        assert my_tool.count_tokens(sdamanager.address) == 1

    @pytest.mark.sdamanager(backends=60, devices=8, admin_secret="s3cret")
    def test_with_a_big_cluster(sdamanager): ...

The fixture yields a ``sdamanager_stub.testing.RunningSimulator``:
``.address``/``.host``/``.port``, ``.manager`` (the state, for fast setup),
``.admin`` (``.admin.stub`` gRPC with the secret attached, ``.admin.run(line)``
a shell command) and ``.environ()`` (for a subprocess).  Each test gets its
own simulator, stopped after it.  Options (``testing.OPTIONS``): the
``sdamanager`` marker for one test, or override the ``sdamanager_options``
fixture (a dict) for a module or a directory; the marker wins.

Loaded by every pytest run where this package is installed, so it imports
nothing heavy here: gRPC and the simulator load when a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .testing import RunningSimulator

MARKER = "sdamanager"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(backends=4, devices=8, prepare_seconds=0, clean_seconds=0, admin_secret=None): "
        "options of the simulator the `sdamanager` fixture starts (sdamanager_stub.testing)",
    )


@pytest.fixture
def sdamanager_options() -> dict[str, Any]:
    """Options for the ``sdamanager`` fixture's simulator; override it to change them for many tests."""
    return {}


@pytest.fixture
def sdamanager(request: pytest.FixtureRequest, sdamanager_options: dict[str, Any]) -> Iterator[RunningSimulator]:
    """A running SDAManager simulator on 127.0.0.1 and a free port, fresh for this test."""
    from .testing import check_options, running_simulator

    options = dict(sdamanager_options)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            pytest.fail(f"@pytest.mark.{MARKER} takes keywords only, e.g. @pytest.mark.{MARKER}(backends=4)",
                        pytrace=False)
        options.update(marker.kwargs)
    try:
        options, problem = check_options(options), ""
    except ValueError as err:
        problem = str(err)
    if problem:  # failed outside the except block: the report is this one line, no chained error
        pytest.fail(f"sdamanager fixture: {problem}", pytrace=False)
    with running_simulator(**options) as simulator:
        yield simulator
