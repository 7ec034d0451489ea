"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, for tests/test_publish.py.

It answers what ``HfApi.whoami``, ``create_repo`` and ``create_commit`` call, over the
real protocol: preupload (regular or LFS, decided the way the Hub does, from the file's
first 512 bytes and its size), the LFS batch API with the ``basic`` transfer (an upload
href on this server, then verify), the upload itself, and the NDJSON commit. It records
every request; anything else is answered 404 and listed in ``unexpected``. Xet is not
served: a client must be told ``HF_HUB_DISABLE_XET``.
"""

import base64
import codecs
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUB_LFS_MIN_BYTES = 10_000_000
LIFETIME_S = 300  # the server stops itself after this, whatever the test does


def hub_upload_mode(sample, size):
    """The Hub's choice: LFS for 10 MB or more, or when the sample holds NUL or non-UTF-8."""
    if size >= HUB_LFS_MIN_BYTES or b"\0" in sample:
        return "lfs"
    try:  # final=False: the sample may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "lfs"
    return "regular"


class FakeHub:
    def __init__(self, token="fake", user="me"):
        self.token, self.user = token, user
        self.reject_token = False     # answer 401 to everything
        self.forbid_create = False    # answer 403 to repo creation
        self.requests = []            # (method, path, authorization header)
        self.unexpected = []          # (method, path) of routes this fake does not serve
        self.created = []             # repo creation payloads
        self.upload_modes = {}        # path -> "lfs" | "regular", as answered to preupload
        self.uploads = {}             # oid -> bytes received through the LFS upload href
        self.verified = set()         # oids the client asked to verify
        self.commits = []             # each commit's NDJSON lines, parsed
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._timer = threading.Timer(LIFETIME_S, self.stop)
        self._timer.daemon = True

    def start(self):
        self._thread.start()
        self._timer.start()
        return self

    def stop(self):
        self._timer.cancel()
        self.server.shutdown()
        self.server.server_close()

    def committed_files(self):
        """{path: bytes} of the regular files and {path: (oid, size)} of the LFS files."""
        lines = [line for commit in self.commits for line in commit]
        regular = {line["value"]["path"]: base64.b64decode(line["value"]["content"])
                   for line in lines if line["key"] == "file"}
        lfs = {line["value"]["path"]: (line["value"]["oid"], line["value"]["size"])
               for line in lines if line["key"] == "lfsFile"}
        return regular, lfs

    # --- routes: (method, regex) -> handler(request, match, body) -> (status, json) ---

    def whoami(self, request, match, body):
        return 200, {"type": "user", "name": self.user, "auth": {"accessToken": {"role": "write"}}}

    def create_repo(self, request, match, body):
        payload = json.loads(body)
        self.created.append(payload)
        if self.forbid_create:
            return 403, {"error": "You don't have the rights to create a space under this namespace"}
        return 200, {"url": f"{self.url}/spaces/{payload['organization']}/{payload['name']}"}

    def repo_info(self, request, match, body):
        return 404, {"error": "Repository not found"}

    def validate_yaml(self, request, match, body):
        return 200, {"errors": [], "warnings": []}

    def preupload(self, request, match, body):
        files = []
        for item in json.loads(body)["files"]:
            mode = hub_upload_mode(base64.b64decode(item["sample"]), item["size"])
            self.upload_modes[item["path"]] = mode
            files.append({"path": item["path"], "uploadMode": mode, "shouldIgnore": False})
        return 200, {"files": files}

    def lfs_batch(self, request, match, body):
        payload = json.loads(body)
        assert payload["operation"] == "upload" and "basic" in payload["transfers"]
        objects = []
        for item in payload["objects"]:
            href = f"{self.url}/lfs-storage/{item['oid']}"
            objects.append({"oid": item["oid"], "size": item["size"], "authenticated": True,
                            "actions": {"upload": {"href": href},
                                        "verify": {"href": href + "/verify"}}})
        return 200, {"transfer": "basic", "objects": objects}

    def lfs_put(self, request, match, body):
        if hashlib.sha256(body).hexdigest() != match["oid"]:
            return 400, {"error": "content does not match its oid"}
        self.uploads[match["oid"]] = body
        return 200, {}

    def lfs_verify(self, request, match, body):
        payload = json.loads(body)
        stored = self.uploads.get(payload["oid"])
        if stored is None or len(stored) != payload["size"]:
            return 404, {"error": "object not uploaded"}
        self.verified.add(payload["oid"])
        return 200, {}

    def commit(self, request, match, body):
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        missing = [line["value"]["path"] for line in lines
                   if line["key"] == "lfsFile" and line["value"]["oid"] not in self.uploads]
        if lines[0]["key"] != "header" or missing:
            return 400, {"error": f"LFS objects never uploaded: {missing}"}
        self.commits.append(lines)
        repo = f"{match['owner']}/{match['name']}"
        return 200, {"commitUrl": f"{self.url}/spaces/{repo}/commit/{'a' * 40}",
                     "commitOid": "a" * 40}

    ROUTES = (
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("GET", r"/api/spaces/(?P<owner>[^/]+)/(?P<name>[^/]+)", "repo_info"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("POST", r"/api/spaces/(?P<owner>[^/]+)/(?P<name>[^/]+)/preupload/main", "preupload"),
        ("POST", r"/spaces/(?P<owner>[^/]+)/(?P<name>[^/]+)\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/lfs-storage/(?P<oid>[0-9a-f]{64})", "lfs_put"),
        ("POST", r"/lfs-storage/(?P<oid>[0-9a-f]{64})/verify", "lfs_verify"),
        ("POST", r"/api/spaces/(?P<owner>[^/]+)/(?P<name>[^/]+)/commit/main", "commit"),
    )

    def answer(self, request):
        path = request.path.split("?")[0]
        body = _read_body(request)
        self.requests.append((request.command, path, request.headers.get("Authorization")))
        storage = path.startswith("/lfs-storage/")  # the storage href needs no token
        if self.reject_token or not (storage or request.headers.get("Authorization") == f"Bearer {self.token}"):
            return 401, {"error": "Invalid credentials in Authorization header"}
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if match and method == request.command:
                return getattr(self, name)(request, match, body)
        self.unexpected.append((request.command, path))
        return 404, {"error": f"not served by the fake Hub: {request.command} {path}"}


def _handler_for(hub):
    class Handler(BaseHTTPRequestHandler):
        timeout = 30  # seconds a connection may stay silent

        def _respond(self):
            try:
                status, payload = hub.answer(self)
            except Exception as error:  # a bug in the fake: tell the client, do not hang it
                status, payload = 400, {"error": f"fake Hub failed: {error!r}"}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _respond

        def log_message(self, format, *args):  # keep the test output quiet
            pass

    return Handler


def _read_body(request):
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(request.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while request.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(request.rfile.read(size))
            request.rfile.readline()
    return request.rfile.read(int(request.headers.get("Content-Length") or 0))
