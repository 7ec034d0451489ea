import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from cifar_fixture import write_tiny_cifar  # noqa: E402


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
def work(tiny_cifar):
    """The app's worker pools (one quick worker, one long) for tabs built on their own in a test;
    the long worker reads the tiny CIFAR-10."""
    from classroom.work import Work

    pools = Work(tiny_cifar[1], quick=1, long=1)
    yield pools
    pools.close()
