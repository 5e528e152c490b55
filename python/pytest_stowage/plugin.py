"""The pytest plugin: `stowage_server` (session), `stowage` (a clean registry per test), and a
"stowage history" section in the report of every failing test that used it."""

import pytest

from .server import StowageError, StowageServer

_STARTED_AFTER = pytest.StashKey[int]()
_SERVER = pytest.StashKey[StowageServer]()


def pytest_addoption(parser):
    group = parser.getgroup("stowage", "Stowage: a local AWS ECR per test")
    group.addoption("--stowage-bin", default=None,
                    help="the stowage binary to start (default: $STOWAGE_BIN, else stowage on PATH)")
    group.addoption("--stowage-url", default=None,
                    help="use the Stowage server already running at this URL instead of starting one")
    group.addoption("--stowage-fixture", action="append", default=[], metavar="[REPOSITORY=]PATH",
                    help="an export file, or an OCI image layout as REPOSITORY=PATH, loaded once at session start (repeatable)")
    group.addoption("--stowage-admin-token", default=None, help="the --admin-token of the server at --stowage-url")


@pytest.fixture(scope="session")
def stowage_server(request):
    """One Stowage server for the session: started here (in memory, on a free port), or the one at --stowage-url."""
    config = request.config
    fixtures = config.getoption("stowage_fixture")
    url = config.getoption("stowage_url")
    try:
        if url:
            server = StowageServer.attach(url, fixtures=fixtures, admin_token=config.getoption("stowage_admin_token"))
        else:
            server = StowageServer.start(StowageServer.find_binary(config.getoption("stowage_bin")), fixtures=fixtures)
    except StowageError as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def stowage(stowage_server, request):
    """The session's server, brought back before this test to a clean state in O(1): empty, or the fixtures."""
    stowage_server.clean()
    request.node.stash[_STARTED_AFTER] = stowage_server.sequence
    request.node.stash[_SERVER] = stowage_server
    return stowage_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or _SERVER not in item.stash:
        return
    server = item.stash[_SERVER]
    try:
        history = server.history(after=item.stash[_STARTED_AFTER])
    except StowageError as error:
        history = f"the registry's history could not be read: {error}"
    report.sections.append(("stowage history", history))
