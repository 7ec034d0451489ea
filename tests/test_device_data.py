"""scripts/device_data.sh: an archive split here, received one part per call, reassembled there."""

import os
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "device_data.sh")


def sh(*args, cwd, store, check=True):
    return subprocess.run(["bash", SCRIPT, *args], cwd=cwd, capture_output=True, text=True, check=check,
                          env={**os.environ, "DEVICE_DATA": str(store), "PART_BYTES": "100000"})


def test_parts_travel_one_per_call_and_come_back_whole(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(os.urandom(250_000))
    here, store = tmp_path / "here", tmp_path / "store"
    here.mkdir()
    sh("split", str(archive), cwd=here, store=store)
    parts = sorted(os.listdir(here / ".device-data"))
    assert parts == ["SHA256", "part-00", "part-01", "part-02"]
    for part in parts[1:]:  # each call carries one part (and SHA256) into a fresh checkout
        call = tmp_path / f"call-{part}"
        (call / ".device-data").mkdir(parents=True)
        for name in (part, "SHA256"):
            (call / ".device-data" / name).write_bytes((here / ".device-data" / name).read_bytes())
        assert sh("assemble", cwd=call, store=store, check=False).returncode != 0  # not all there yet
        sh("receive", cwd=call, store=store)
    path = sh("assemble", cwd=tmp_path, store=store).stdout.strip()
    assert path == str(store / archive.name) and open(path, "rb").read() == archive.read_bytes()

    (store / "part-01").write_bytes(b"damaged")
    os.remove(path)
    failed = sh("assemble", cwd=tmp_path, store=store, check=False)
    assert failed.returncode == 1 and "does not match its SHA-256" in failed.stderr


@pytest.mark.parametrize("args", [[], ["unknown"], ["split"]])
def test_bad_use_says_how(tmp_path, args):
    result = sh(*args, cwd=tmp_path, store=tmp_path / "store", check=False)
    assert result.returncode != 0 and "usage" in result.stderr
