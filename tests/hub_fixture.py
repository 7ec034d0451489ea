"""A tiny CIFAR-10 in the Hugging Face Hub's layout (dataset repo uoft-cs/cifar10), made for tests.

The parquet files have the Hub's schema: ``img`` struct<bytes: binary, path: string> holding a
PNG, ``label`` int64 (what ``datasets``' Image and ClassLabel features write). The cache is
laid out as huggingface_hub lays it out (file_download.py): ``datasets--uoft-cs--cifar10/``
with ``blobs/<sha256>``, ``snapshots/<commit>/plain_text/<file>`` linked to the blob, and
``refs/main`` holding the commit. PNGs are written with Pillow, not with the OpenCV that
reads them.
"""

import hashlib
import io
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from cifar_fixture import make_images
from mobilenet.data import CLASS_NAMES
from mobilenet.data_hub import HUB_REPO, TEST_FILE, TRAIN_FILE

TRAIN_ROWS = 50
TEST_ROWS = 20
COMMIT = "5eed" * 10  # any 40 hex digits: a commit of the repository
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
HUB_METADATA = {b"huggingface": json.dumps({"info": {"features": {
    "img": {"_type": "Image"},
    "label": {"names": list(CLASS_NAMES), "_type": "ClassLabel"}}}}).encode()}


def png_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def make_split(rows, seed):
    """(images, labels) of one split: the class patterns of cifar_fixture, labels 0-9."""
    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % len(CLASS_NAMES)
    rng.shuffle(labels)
    return make_images(labels, rng), labels.astype(np.int64)


def hub_parquet(images=None, labels=None, pngs=None, columns=None):
    """Bytes of one parquet file in the Hub's schema. ``pngs`` (None: a null img) or
    ``columns`` replace the encoded ``images``."""
    if columns is None:
        pngs = pngs if pngs is not None else [png_bytes(image) for image in images]
        cells = [None if png is None else {"bytes": png, "path": None} for png in pngs]
        columns = {"img": pa.array(cells, IMAGE_TYPE),
                   "label": pa.array(labels, pa.int64())}
    table = pa.table(columns).replace_schema_metadata(HUB_METADATA)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_hub_cache(cache_dir, train, test, commit=COMMIT):
    """Puts two parquet files (bytes) into ``cache_dir`` as hf_hub_download would."""
    repo = os.path.join(cache_dir, "datasets--" + HUB_REPO.replace("/", "--"))
    for name, payload in ((TRAIN_FILE, train), (TEST_FILE, test)):
        blob = os.path.join(repo, "blobs", hashlib.sha256(payload).hexdigest())
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        with open(blob, "wb") as f:
            f.write(payload)
        pointer = os.path.join(repo, "snapshots", commit, *name.split("/"))
        os.makedirs(os.path.dirname(pointer), exist_ok=True)
        os.symlink(os.path.relpath(blob, os.path.dirname(pointer)), pointer)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(commit)
    return repo


def write_hub_folder(folder, train, test):
    """The files as ``hf download --local-dir`` or a mounted dataset volume leaves them."""
    for name, payload in ((TRAIN_FILE, train), (TEST_FILE, test)):
        path = os.path.join(folder, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(payload)


class HubFilesServer:
    """The two files served on 127.0.0.1 at the Hub's download URLs, with the headers
    hf_hub_download reads (X-Repo-Commit, ETag, Content-Length; no Xet). A context manager;
    ``url`` is the endpoint, ``requests`` what was asked."""

    def __init__(self, train, test, commit=COMMIT):
        files = {f"/datasets/{HUB_REPO}/resolve/main/{name}": payload
                 for name, payload in ((TRAIN_FILE, train), (TEST_FILE, test))}
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):
                self.answer(body=False)

            def do_GET(self):
                self.answer(body=True)

            def answer(self, body):
                requests.append((self.command, self.path))
                payload = files.get(self.path)
                if payload is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", commit)
                self.send_header("ETag", f'"{hashlib.sha256(payload).hexdigest()}"')
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if body:
                    self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
