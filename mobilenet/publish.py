"""Publish the app to a Hugging Face Space: ``python -m mobilenet publish-space OWNER/NAME``.

The Hub's git server refuses a ``git push`` of this repository: it tracks checkpoints and
pictures as plain git blobs, and the Hub takes binary files only through Git LFS or Xet.
Instead of rewriting our history, this module uploads the files with ``huggingface_hub``'s
commit API, which stores every binary file through LFS/Xet by itself, and writes a
``.gitattributes`` into the Space that routes those files through LFS, so that a later
``git clone`` of the Space and ``git push`` to it work.

What goes, out of the files git tracks (``git ls-files``: untracked and ignored files never
go; where the folder is not a git checkout, a walk of the folder that skips hidden files,
``__pycache__`` and ``*.pyc``/``*.tmp``):

- ``app.py``, ``requirements.txt`` and ``README.md`` (its front matter configures the Space);
- everything under ``mobilenet/``, ``classroom/`` and ``demo/`` (the example pictures are in
  ``demo/examples/``), except ``mobilenet/bench.py``, the benchmarks, run from a checkout;
- the shipped checkpoints under ``checkpoints/``, except the app's output folders: the runs
  folder (``checkpoints/runs``, and ``$MOBILENET_RUNS_DIR`` / ``$MOBILENET_EXPORT_DIR`` where
  they lie inside the project) and the resumable training state (``checkpoints/resume``);
- the files under ``docs/``, and the Markdown pages next to it (``BENCHMARKS.md``), that
  ``README.md`` shows or links to (``](path``), so that its links work on the Space.

Nothing else: not ``tests/``, ``scripts/``, ``.ci/``, ``requirements-dev.txt``, ``pytest.ini``
or ``.gitignore``. Files are added or replaced, never
deleted from the Space.

A file goes through LFS/Xet when it is binary: it holds a NUL byte, is not UTF-8, or is
10 MB or more (the Hub keeps nothing larger as a plain blob). The Hub judges from a file's
first 512 bytes; judging from the whole file, as here, finds what it finds.
"""

import dataclasses
import fnmatch
import os
import posixpath
import re
import subprocess

from mobilenet import CHECKPOINT_DIR, RUNS_DIR

PROJECT_ROOT = os.path.dirname(CHECKPOINT_DIR)
APP_FILES = ("app.py", "requirements.txt", "README.md")
APP_FOLDERS = ("mobilenet/", "classroom/", "demo/", "checkpoints/")
DEV_ONLY_FILES = ("mobilenet/bench.py",)
JUNK_SUFFIXES = (".pyc", ".tmp")
RESUME_FOLDER = "checkpoints/resume"  # the training state that .gitignore keeps out
OUTPUT_FOLDER_VARIABLES = ("MOBILENET_RUNS_DIR", "MOBILENET_EXPORT_DIR")
LFS_MIN_BYTES = 10_000_000  # the Hub stores no plain git blob of this size or more
LFS_ATTRIBUTES = "filter=lfs diff=lfs merge=lfs -text"
# The .gitattributes the Hub writes into a new repository; ours keeps it and adds to it.
HUB_DEFAULT_LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
    "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
    "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
    "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
    "*.zst", "*tfevents*",
)
# The Hub's rule for repository names: letters, digits, '-', '_', '.'; no '--' or '..'.
REPO_PART = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?$")
NOT_LOGGED_IN = ("not logged in to Hugging Face: run `hf auth login`, set HF_TOKEN, or pass "
                 "--token (a token with write access, https://huggingface.co/settings/tokens)")


class PublishError(Exception):
    """A publication that cannot go ahead; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class SpaceFile:
    path: str    # in the Space and relative to the project folder, with '/'
    size: int    # bytes
    lfs: bool    # stored through Git LFS/Xet (binary), not as a plain git blob


@dataclasses.dataclass(frozen=True)
class SpacePlan:
    """What a publication sends: ``files`` (``.gitattributes`` last) and that file's text."""
    root: str
    files: list
    gitattributes: str


def check_repo_id(repo_id):
    """Raises ``PublishError`` unless ``repo_id`` is ``OWNER/NAME`` as the Hub accepts it."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(REPO_PART.match(part) for part in parts):
        raise PublishError(f"the Space must be named OWNER/NAME (letters, digits, '-', '_', '.'; "
                           f"e.g. alice/mobilenet-lab). Received: {repo_id!r}")


def space_url(repo_id, endpoint=None):
    from huggingface_hub import constants

    return f"{endpoint or constants.ENDPOINT}/spaces/{repo_id}"


def plan_space(root=PROJECT_ROOT, output_folders=()):
    """The files a Space needs, their sizes and which go through LFS/Xet (the dry run).
    ``output_folders``: where the app writes (its runs and export folders), never sent.

    Reads the files; contacts nothing. Raises ``PublishError`` if ``root`` lacks an app file.
    """
    paths = space_paths(root, output_folders)
    files = [SpaceFile(path, os.path.getsize(os.path.join(root, path)),
                       is_binary(os.path.join(root, path))) for path in paths]
    text = gitattributes([f.path for f in files if f.lfs], [f.path for f in files if not f.lfs])
    uncovered = [f.path for f in files if f.lfs and not lfs_covers(text, f.path)]
    assert not uncovered, f".gitattributes misses binary files: {uncovered}"
    return SpacePlan(root, files + [SpaceFile(".gitattributes", len(text.encode()), False)], text)


def publish_space(repo_id, plan, *, private=False, token=None, endpoint=None):
    """Creates the Space (Gradio SDK) if it does not exist and uploads ``plan`` in one commit.

    Args:
        repo_id: ``OWNER/NAME`` of the Space.
        plan: what to send, from ``plan_space()``.
        private: create the Space private (an existing Space keeps its visibility).
            Default False: the owner's default visibility.
        token: a Hugging Face token with write access. Default None: ``$HF_TOKEN`` or the
            token saved by ``hf auth login``.
        endpoint: the Hub's address. Default None: ``$HF_ENDPOINT`` or huggingface.co.

    Returns:
        The Space's URL.

    Raises:
        PublishError: a bad ``repo_id``, no token or a refused one, no write access, the Hub
            unreachable or refusing the commit.
    """
    from huggingface_hub import CommitOperationAdd, HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from huggingface_hub.utils import httpx

    check_repo_id(repo_id)
    token = token or get_token()
    if not token:
        raise PublishError(NOT_LOGGED_IN)
    api = HfApi(endpoint=endpoint, token=token)
    additions = [CommitOperationAdd(f.path, plan.gitattributes.encode() if f.path == ".gitattributes"
                                    else os.path.join(plan.root, f.path)) for f in plan.files]
    user = None
    try:
        user = api.whoami()["name"]
        url = api.create_repo(repo_id, repo_type="space", space_sdk="gradio",
                              private=True if private else None, exist_ok=True)
        api.create_commit(repo_id, additions, repo_type="space",
                          commit_message="Publish MobileNet Lab (python -m mobilenet publish-space)")
    except HfHubHTTPError as error:
        raise PublishError(_explain_refusal(error, repo_id, user)) from error
    except OfflineModeIsEnabled as error:
        raise PublishError("HF_HUB_OFFLINE is set: unset it to publish") from error
    except (httpx.TransportError, ConnectionError) as error:  # hf_xet raises ConnectionError
        raise PublishError(f"cannot reach the Hub at {api.endpoint} ({error}): check the network "
                           f"connection and HF_ENDPOINT") from error
    return str(url)


def _explain_refusal(error, repo_id, user):
    status = error.response.status_code
    if status == 401:
        return ("Hugging Face refused the token (401): run `hf auth login` again, or set HF_TOKEN "
                "or --token to a valid token with write access")
    if status == 403:
        return (f"{user or 'this token'} may not write to {repo_id} (403): use your own name or an "
                f"organization you belong to as OWNER, and a token with write access")
    detail = error.server_message or str(error).splitlines()[0]
    return f"the Hub refused to publish {repo_id} ({status}): {detail}"


def space_paths(root=PROJECT_ROOT, output_folders=()):
    """Paths (relative, with '/', sorted) of the files the Space needs, none in ``output_folders``
    (paths; None or empty ones are skipped); rules in the module doc."""
    readme = _read_text(os.path.join(root, "README.md"))
    skipped = tuple(folder + "/" for folder in _output_folders(root, output_folders))
    paths = sorted(path for path in _project_files(root)
                   if _app_needs(path, readme) and not path.startswith(skipped))
    missing = [name for name in APP_FILES if name not in paths]
    if missing:
        raise PublishError(f"{root} has no {', '.join(missing)}: publish from the MobileNet Lab "
                           f"project folder")
    return paths


def _app_needs(path, readme):
    if path in DEV_ONLY_FILES or path.endswith(JUNK_SUFFIXES) or "__pycache__/" in path:
        return False
    linked_page = path.startswith("docs/") or ("/" not in path and path.endswith(".md"))
    return path in APP_FILES or path.startswith(APP_FOLDERS) or (linked_page and f"]({path}" in readme)


def _read_text(path):
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8") as file:
        return file.read()


def _output_folders(root, output_folders):
    """Folders (relative, with '/') where the app writes: never published."""
    folders = {os.path.relpath(RUNS_DIR, PROJECT_ROOT).replace(os.sep, "/"), RESUME_FOLDER}
    root = os.path.realpath(root)
    for folder in output_folders:
        if folder:
            relative = os.path.relpath(os.path.realpath(folder), root)
            if relative != ".." and not relative.startswith(".." + os.sep):
                folders.add(relative.replace(os.sep, "/"))
    return folders


def _project_files(root):
    """Tracked files that exist, or every file of a folder that is no git checkout."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                                 check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):  # no git, or not a checkout
        listing = b""
    tracked = [path for path in os.fsdecode(listing).split("\0") if path]
    if tracked:
        return [path for path in tracked if os.path.isfile(os.path.join(root, path))]
    return _walk(root)


def _walk(root):
    paths = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        relative = os.path.relpath(folder, root).replace(os.sep, "/")
        paths += [name if relative == "." else f"{relative}/{name}"
                  for name in names if not name.startswith(".")]
    return paths


def is_binary(path):
    """True for a file git should keep in LFS: NUL bytes, not UTF-8, or 10 MB or more."""
    if os.path.getsize(path) >= LFS_MIN_BYTES:
        return True
    with open(path, "rb") as file:
        data = file.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return b"\0" in data


def gitattributes(lfs_paths, text_paths):
    """The Space's ``.gitattributes``: the Hub's defaults plus a line per binary extension
    (``*.keras``), or the exact path where the extension is missing or also names text."""
    text_extensions = {posixpath.splitext(path)[1] for path in text_paths}
    patterns = list(HUB_DEFAULT_LFS_PATTERNS)
    for path in sorted(lfs_paths):
        if any(_pattern_matches(pattern, path) for pattern in patterns):
            continue
        extension = posixpath.splitext(path)[1]
        if extension and extension not in text_extensions and _is_plain(extension):
            patterns.append("*" + extension)
        else:
            patterns.append(_exact_pattern(path))
    lines = ["# Written by `python -m mobilenet publish-space`: binary files go through Git LFS."]
    return "\n".join(lines + [f"{pattern} {LFS_ATTRIBUTES}" for pattern in patterns]) + "\n"


def lfs_covers(gitattributes_text, path):
    """Whether a line of ``gitattributes_text`` puts ``path`` through LFS (last match wins)."""
    covered = False
    for line in gitattributes_text.splitlines():
        fields = line.split()
        if fields and not line.startswith("#") and _pattern_matches(fields[0], path):
            covered = "filter=lfs" in fields[1:]
    return covered


def _pattern_matches(pattern, path):
    # git: a pattern without '/' matches the file name in any folder, one with '/' the whole path.
    if "/" not in pattern:
        return fnmatch.fnmatchcase(posixpath.basename(path), pattern)
    return fnmatch.fnmatchcase(path, pattern.lstrip("/"))


def _is_plain(text):
    return re.fullmatch(r"[\w.+-]+", text) is not None


def _exact_pattern(path):
    """A gitattributes pattern for this one path: glob characters in brackets, and '?' for
    blanks and backslashes (git reads those as separators and escapes)."""
    escaped = "".join(f"[{c}]" if c in "*?[" else "?" if c.isspace() or c == "\\" else c
                      for c in path)
    return "/" + escaped
