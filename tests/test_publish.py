"""Publishing to a Hugging Face Space, against a fake Hub on 127.0.0.1 (tests/fake_hub.py).

Hermetic: no network, a temporary HF_HOME and token file, the token "fake". Xet is turned
off (HF_HUB_DISABLE_XET) so that binary files take the LFS batch API that the fake serves.
"""

import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import zipfile

import pytest
from huggingface_hub import constants as hub_constants
from PIL import Image

from fake_hub import FakeHub
from mobilenet import publish
from mobilenet.publish import PublishError, check_repo_id, plan_space, publish_space

# huggingface_hub's LFS upload passes a file as data=, which httpx2 flags; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

README = """---
title: Test Lab
sdk: gradio
app_file: app.py
---

# Test Lab

![the app](docs/shown.png) and a [guide](docs/GUIDE.md).
"""


def png_bytes(size=8):
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (30, 200, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def keras_bytes(seed):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.weights.h5", bytes(range(256)) * 40 + bytes([seed]))
    return buffer.getvalue()


# What the app needs, by kind: these are sent; binary ones through LFS.
SENT_TEXT = {
    "README.md": README.encode(),
    "app.py": b"from demo.ui import build_demo\n",
    "requirements.txt": b"gradio\n",
    "mobilenet/__init__.py": b'"""package"""\n',
    "demo/ui.py": b"import gradio\n",
    "demo/tabs/page.toml": "bird = {en = 'bird', zh = '鸟'}\n".encode(),
    "classroom/runs.py": b"RUNS = 1\n",
    "demo/notes.txt": b"plain notes\n",
    "checkpoints/model.json": b'{"accuracy": 0.9}\n',
    "docs/GUIDE.md": b"# Guide\n",
}
SENT_BINARY = {
    "checkpoints/model.keras": keras_bytes(1),
    "checkpoints/sweep/alpha_1.keras": keras_bytes(2),
    "checkpoints/weights": bytes(range(256)),            # no extension: an exact-path line
    "checkpoints/odd[1]": b"\x00glob characters",         # brackets escaped in that line
    "demo/examples/cat.png": png_bytes(),
    "demo/examples/photo.jpg": jpeg_bytes(),
    "demo/examples/raw data": b"\xff\xfe blank in the name",
    "demo/examples/table.txt": b"\x00\x01 binary, though .txt also names text",
    "docs/shown.png": png_bytes(12),
}
# Tracked but not for a Space, or where the app writes (the runs folders).
NOT_SENT = {
    "tests/test_app.py": b"def test(): pass\n",
    "scripts/train.sh": b"echo train\n",
    ".ci/run": b"pytest\n",
    "requirements-dev.txt": b"pytest\n",
    "BENCHMARKS.md": b"# Benchmarks\n",
    "pytest.ini": b"[pytest]\n",
    "mobilenet/bench.py": b"print('bench')\n",
    "docs/unlisted.png": png_bytes(4),
    "checkpoints/runs/forced.keras": keras_bytes(3),      # force-added despite .gitignore
    "checkpoints/classroom/run.keras": keras_bytes(4),    # $MOBILENET_RUNS_DIR below
    ".gitignore": b"checkpoints/runs/\n__pycache__/\n*.pyc\n",
}
UNTRACKED = {
    "checkpoints/runs/ignored.keras": keras_bytes(5),
    "mobilenet/__pycache__/x.cpython-311.pyc": b"\x00pyc",
    "demo/new.py": b"# untracked: git add it to publish it\n",
}


def write(root, files):
    for path, data in files.items():
        target = os.path.join(root, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as file:
            file.write(data)


def git(root, *args, **kwargs):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, **kwargs)


@pytest.fixture
def project(tmp_path):
    """A small git checkout shaped like the project; returns (root, the app's output folders)."""
    root = str(tmp_path / "project")
    write(root, {**SENT_TEXT, **SENT_BINARY, **NOT_SENT})
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "add", "-f", "checkpoints/runs/forced.keras")
    write(root, UNTRACKED)
    return root, [os.path.join(root, "checkpoints", "classroom"), None]  # its runs_dir; no export_dir


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The fake Hub, and huggingface_hub told: no Xet, no saved token, online."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub_constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    monkeypatch.setattr(hub_constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    fake = FakeHub().start()
    yield fake
    fake.stop()


def git_lfs_paths(gitattributes_text, paths, tmp_path):
    """The paths that git itself routes through LFS with this .gitattributes."""
    folder = tmp_path / "attributes"
    folder.mkdir(exist_ok=True)
    git(folder, "init", "-q")
    (folder / ".gitattributes").write_text(gitattributes_text)
    out = git(folder, "check-attr", "-z", "--stdin", "filter",
              input="".join(path + "\0" for path in paths).encode()).stdout.decode()
    fields = out.split("\0")
    return {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == "lfs"}


def test_publish_sends_the_app_and_binary_files_through_lfs(project, hub, tmp_path):
    root, output_folders = project
    plan = plan_space(root, output_folders)
    assert {f.path for f in plan.files if f.lfs} == set(SENT_BINARY)

    url = publish_space("me/lab", plan, token="fake", endpoint=hub.url)

    assert url == f"{hub.url}/spaces/me/lab"
    assert hub.unexpected == []
    assert hub.created == [{"name": "lab", "organization": "me", "type": "space", "sdk": "gradio"}]
    assert all(auth == "Bearer fake" for _, path, auth in hub.requests
               if not path.startswith("/lfs-storage/"))
    assert len(hub.commits) == 1
    regular, lfs = hub.committed_files()
    assert set(regular) | set(lfs) == set(SENT_TEXT) | set(SENT_BINARY) | {".gitattributes"}
    assert set(lfs) == set(SENT_BINARY) and not set(regular) & set(SENT_BINARY)
    for path, data in SENT_BINARY.items():
        oid = hashlib.sha256(data).hexdigest()
        assert lfs[path] == (oid, len(data)), path
        assert hub.uploads[oid] == data and oid in hub.verified, path
    for path, data in SENT_TEXT.items():
        assert regular[path] == data, path
    # The fake Hub, deciding from 512-byte samples, agrees with the plan file by file.
    assert hub.upload_modes == {f.path: "lfs" if f.lfs else "regular" for f in plan.files}

    attributes = regular[".gitattributes"].decode()
    assert attributes == plan.gitattributes
    assert git_lfs_paths(attributes, list(SENT_TEXT) + list(SENT_BINARY), tmp_path) == set(SENT_BINARY)
    assert "*.keras filter=lfs diff=lfs merge=lfs -text" in attributes.splitlines()
    assert "*.bin filter=lfs diff=lfs merge=lfs -text" in attributes.splitlines()  # the Hub's defaults


def test_file_selection_without_runs_folders_tests_or_untracked_files(project):
    root, output_folders = project
    sent = set(SENT_TEXT) | set(SENT_BINARY)
    assert set(publish.space_paths(root, output_folders)) == sent
    # Without $MOBILENET_RUNS_DIR there, that folder is shipped checkpoints like any other.
    assert set(publish.space_paths(root, ())) == sent | {"checkpoints/classroom/run.keras"}

    copy = os.path.join(os.path.dirname(root), "installed")  # no .git: the folder is walked
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"))
    runs = [os.path.join(copy, "checkpoints", "classroom")]
    assert set(publish.space_paths(copy, runs)) == sent | {"demo/new.py"}


def test_real_repository_dry_run_selection(tmp_path):
    tracked = set(git(ROOT, "ls-files", "-z").stdout.decode().split("\0")) - {""}
    plan = plan_space()
    files = {f.path: f for f in plan.files}
    chosen = set(files) - {".gitattributes"}

    assert chosen <= tracked
    assert {"app.py", "requirements.txt", "README.md", "demo/ui.py", "demo/page.toml", "classroom/runs.py",
            "mobilenet/model.py",
            "checkpoints/mobilenet_cifar.keras", "docs/train.png"} <= chosen
    shipped = {p for p in tracked if p.startswith(("checkpoints/", "demo/examples/"))
               and not p.startswith("checkpoints/runs/")}
    assert shipped <= chosen
    assert not {p for p in chosen if p.startswith(("tests/", "scripts/", ".ci/", "checkpoints/runs/"))}
    assert not chosen & {"requirements-dev.txt", "pytest.ini", ".gitignore", "mobilenet/bench.py"}
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert all(p in readme for p in chosen if p.startswith("docs/"))
    assert "BENCHMARKS.md" in chosen  # the README links to it: its links work on the Space

    lfs = {p for p in chosen if files[p].lfs}
    assert all(p in lfs for p in chosen if p.endswith((".keras", ".png", ".jpg", ".jpeg", ".webp")))
    assert not {p for p in lfs if p.endswith((".py", ".md", ".json", ".svg", ".txt"))}
    assert all(files[p].size == os.path.getsize(os.path.join(ROOT, p)) for p in chosen)
    assert git_lfs_paths(plan.gitattributes, sorted(chosen), tmp_path) == lfs


def test_gitattributes_covers_odd_names_as_git_reads_them(tmp_path, monkeypatch):
    binary = ["a/model.keras", "data.txt", "weights", "dir with space/raw data", "star*[x]?",
              "tab\tname", "back\\slash", "#hash", "!bang", "b/M.PNG"]
    text = ["notes.txt", "a/b.py", "model.keras.json", "README.md"]
    attributes = publish.gitattributes(binary, text)
    assert git_lfs_paths(attributes, binary + text, tmp_path) == set(binary)
    # The library's own check agrees with git.
    assert {p for p in binary + text if publish.lfs_covers(attributes, p)} == set(binary)

    big = tmp_path / "big.txt"
    big.write_text("x" * 300)
    assert not publish.is_binary(str(big))
    monkeypatch.setattr(publish, "LFS_MIN_BYTES", 200)
    assert publish.is_binary(str(big))


@pytest.mark.parametrize("repo_id", ["lab", "me/lab/x", "me/bad name", "me/-lab", "me/a--b", "/lab", ""])
def test_bad_repo_id_is_refused_before_anything_is_sent(repo_id, project, hub):
    with pytest.raises(PublishError, match="OWNER/NAME"):
        publish_space(repo_id, plan_space(*project), token="fake", endpoint=hub.url)
    assert hub.requests == []


def test_good_repo_ids_pass():
    for repo_id in ("me/lab", "Org-1/mobilenet_lab.v2", "a/b"):
        check_repo_id(repo_id)


def test_no_token_says_how_to_log_in(project, hub):
    with pytest.raises(PublishError, match="hf auth login.*HF_TOKEN"):
        publish_space("me/lab", plan_space(*project), endpoint=hub.url)
    assert hub.requests == []


def test_rejected_token_and_forbidden_owner(project, hub):
    hub.reject_token = True
    with pytest.raises(PublishError, match=r"refused the token \(401\).*hf auth login"):
        publish_space("me/lab", plan_space(*project), token="fake", endpoint=hub.url)
    assert hub.requests[0][:2] == ("GET", "/api/whoami-v2") and not hub.commits

    hub.reject_token, hub.forbid_create = False, True
    with pytest.raises(PublishError, match=r"me may not write to someone/lab \(403\)"):
        publish_space("someone/lab", plan_space(*project), token="fake", endpoint=hub.url)
    assert not hub.commits and not hub.uploads


def test_unreachable_hub(project, hub):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(PublishError, match="cannot reach the Hub"):
        publish_space("me/lab", plan_space(*project), token="fake", endpoint=closed)


def cli(*args, hub, tmp_path, **env):
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"),
           "HF_HUB_DISABLE_XET": "1", **env}
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "mobilenet", *args], cwd=ROOT, env=env,
                          text=True, capture_output=True, timeout=600)


def test_cli_dry_run_lists_files_and_sends_nothing(hub, tmp_path):
    result = cli("publish-space", "me/lab", "--dry-run", hub=hub, tmp_path=tmp_path,
                 HF_HUB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    keras = next(line for line in lines if line.startswith("checkpoints/mobilenet_cifar.keras "))
    size_kb = os.path.getsize(os.path.join(ROOT, "checkpoints/mobilenet_cifar.keras")) / 1e3
    assert f"{size_kb:.1f} kB" in keras and keras.endswith("LFS")
    app = next(line for line in lines if line.startswith("app.py "))
    assert app.endswith(" kB") and "LFS" not in app
    assert any(line.startswith(".gitattributes ") for line in lines)
    assert not [line for line in lines if line.startswith(("tests/", "scripts/"))]
    assert lines[-1] == f"dry run, nothing sent: {hub.url}/spaces/me/lab"
    assert hub.requests == []


def test_cli_reports_a_refused_token_in_one_line(hub, tmp_path):
    hub.reject_token = True
    result = cli("publish-space", "me/lab", "--token", "fake", hub=hub, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "error: Hugging Face refused the token (401)" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_publishes_the_repository(hub, tmp_path):
    result = cli("publish-space", "me/lab", "--token", "fake", hub=hub, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0]: line.endswith("LFS") for line in result.stdout.splitlines()
              if line.endswith(" kB") or line.endswith("LFS")}
    assert result.stdout.splitlines()[-1] == f"published: {hub.url}/spaces/me/lab"
    regular, lfs = hub.committed_files()
    assert set(lfs) == {path for path, marked in listed.items() if marked}
    assert set(regular) == {path for path, marked in listed.items() if not marked}
    assert "checkpoints/mobilenet_cifar.keras" in lfs and hub.unexpected == []
    for path, (oid, size) in lfs.items():
        assert len(hub.uploads[oid]) == size == os.path.getsize(os.path.join(ROOT, path))
