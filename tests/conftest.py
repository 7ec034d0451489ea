import functools
import os
import sys
import tempfile

import pytest

try:
    import fcntl  # the locks of `alone` tests (below): Linux and macOS
except ImportError:
    fcntl = None

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))  # loopback_client

from cifar_fixture import write_tiny_cifar  # noqa: E402

# A test that uses one of these running apps is in the slow tier wherever it is
# (docs/TESTS.md); modules that start apps of their own say so with ``pytestmark``.
APP_FIXTURES = {"shared_app", "app_without_cifar10"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under the two test processes (pytest.ini), a test marked ``alone`` (it bounds a latency or
    a time) runs while the other process runs none: every test holds a shared lock on one file
    from its setup to its teardown, an ``alone`` one an exclusive lock. A gate lock taken before
    either keeps the other process from starting test after test while an ``alone`` one waits
    (flock alone would let a stream of shared locks starve it)."""
    run = getattr(item.config, "workerinput", {}).get("testrunuid")  # pytest-xdist's, shared by its processes
    if run is None or fcntl is None:
        yield
        return
    gate, machine = _machine_locks(run)
    alone = item.get_closest_marker("alone") is not None
    fcntl.flock(gate, fcntl.LOCK_EX)
    if not alone:
        fcntl.flock(gate, fcntl.LOCK_UN)
    fcntl.flock(machine, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(machine, fcntl.LOCK_UN)
        if alone:
            fcntl.flock(gate, fcntl.LOCK_UN)


@functools.cache
def _machine_locks(run):
    """(gate, machine) lock files shared by the test processes of pytest-xdist's run ``run``."""
    folder = os.path.join(tempfile.gettempdir(), f"mobilenet-tests-{run}")
    os.makedirs(folder, exist_ok=True)
    return tuple(open(os.path.join(folder, name), "a") for name in ("gate.lock", "machine.lock"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a module's last test (and its fixtures' teardown): its shared Chromium closed."""
    yield
    support = sys.modules.get("browser_support")  # imported by the browser modules only
    if support and (nextitem is None or nextitem.module is not item.module):
        support.close_shared_browser()


def pytest_collection_modifyitems(items):
    for item in items:
        if APP_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    # The modules with slow tests first, each module's tests kept together and in order: the two
    # test processes (pytest.ini) take modules in this order as they finish one, so the minutes-long
    # ones start early and the many short ones fill the end, instead of one process running the
    # bench alone at the end while the other waits.
    slow_modules = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in slow_modules)


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory):
    """(folder, archive, arrays) of a tiny CIFAR-10 in the official format."""
    return write_tiny_cifar(str(tmp_path_factory.mktemp("cifar")))


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_cifar, tmp_path_factory):
    """A checkpoint trained for 1 epoch on the tiny data (paper variant, alpha 0.25)."""
    from mobilenet.data import load_cifar10
    from mobilenet.train import TrainConfig, train

    config = TrainConfig(variant="paper", bn_recalibration_batches=20, alpha=0.25, epochs=1, batch_size=32, train_size=None,
                         validation_size=50, learning_rate=0.01)
    path = str(tmp_path_factory.mktemp("ckpt") / "tiny.keras")
    result = train(config, data=load_cifar10(tiny_cifar[1]), checkpoint_path=path)
    return result.checkpoint


@pytest.fixture(scope="session")
def shared_app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    """One running app with the default settings (the tiny data, ``tiny_checkpoint`` shipped) for
    every module that needs no setting of its own: starting one costs seconds of CPU. Tests leave
    it as they found it: no run left training. Modules with their own settings start their own
    (``app_server.running_app``). Without the standby worker: its runs train the tests' tiny
    settings, which no standby prepares, and a standby traced the classroom and quick recipes
    again after each of them (about 6 s of CPU per run); the standby is checked where it is the
    subject (``test_standby``, ``test_class_queue``, ``test_worker``, the bench)."""
    from app_server import running_app

    with running_app(str(tmp_path_factory.mktemp("shared-app")), tiny_cifar[1], tiny_checkpoint) as app:
        yield app


@pytest.fixture(scope="session")
def app_without_cifar10(tiny_checkpoint, tmp_path_factory):
    """The running app where no CIFAR-10 is: training says what to do, the other tabs work."""
    from app_server import running_app

    root = tmp_path_factory.mktemp("no-cifar-app")
    with running_app(str(root), str(root / "no-cifar-here"), tiny_checkpoint) as app:
        yield app


@pytest.fixture(scope="module")
def demo(tiny_cifar, tmp_path_factory):
    """The app's page built, not launched (its callbacks called directly), for one module."""
    from demo.ui import build_demo, close_app

    folder = tmp_path_factory.mktemp("built-demo")
    built = build_demo(checkpoint_dir=str(folder / "checkpoints"), runs_dir=str(folder / "runs"),
                       data_source=tiny_cifar[1])
    yield built
    close_app(built)


@pytest.fixture(scope="session")
def work(tiny_cifar):
    """The app's worker pools (one quick worker, one long) for tabs built on their own in a test;
    the long worker reads the tiny CIFAR-10."""
    from classroom.work import Work

    pools = Work(tiny_cifar[1], quick=1, long=1)
    yield pools
    pools.close()
