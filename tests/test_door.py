"""Bounds at the door, through the running app: the body limit (``classroom.door``), the header,
idle and keep-alive timeouts and the connection caps (``classroom.connections``).

Written for uvicorn 0.55 (h11): the caps and timeouts live in a protocol class given to the
running server (``classroom.connections.guard``); these tests fail if uvicorn stops taking it.
The server runs in this process, so its memory is this process's. Requests go over raw sockets
where a client must misbehave (a partial request, a body that never ends).
"""

import itertools
import os
import resource
import select
import socket
import time
import types
import urllib.parse

import httpx
import pytest

from app_server import running_app
from browser_support import needs_node
from classroom import connections, door, gradio_patches, serve
from classroom.settings import Settings
from demo.i18n import t, too_many_connections
import loopback_client as loopback

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

MB = 1_000_000


@pytest.fixture(scope="module")
def app(tiny_cifar, tmp_path_factory):
    with running_app(str(tmp_path_factory.mktemp("door-app")), tiny_cifar[1]) as launched:
        yield launched


def address_of(url):
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port


def open_socket(url, source="127.0.0.1"):
    sock = socket.create_connection(address_of(url), timeout=10, source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answer(sock, timeout=10):
    """What the server sent until it closed the connection, or until ``timeout``."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def closed_by_server(sock, within):
    """Whether the server closes ``sock`` (an EOF or a reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def post_head(url, path, length=None, extra=""):
    host, port = address_of(url)
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"{extra}{framing}\r\n\r\n").encode()


def send_until_answered(sock, chunks):
    """Sends ``chunks`` until the server answers or stops reading; returns (bytes sent, answer)."""
    sent = 0
    for chunk in chunks:
        if select.select([sock], [], [], 0)[0]:
            break
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
    return sent, answer(sock)


def json_body(total, chunk=64 * 1024):
    """``total`` bytes of one JSON string, ``chunk`` at a time: never held whole."""
    yield b'{"data": ["'
    for _ in range(total // chunk):
        yield b"a" * chunk
    yield b'"]}'


def chunked(chunks):
    for chunk in chunks:
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
    yield b"0\r\n\r\n"


def test_the_app_raises_its_open_file_limit_and_guards_every_connection(app):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or hard == resource.RLIM_INFINITY
    protocol = app.demo.server.config.http_protocol_class
    assert issubclass(protocol, connections.GuardedH11Protocol)
    book = protocol.book
    assert book.per_address == serve.CONNECTIONS_PER_ADDRESS and book.total >= 64
    assert protocol.header_timeout == connections.HEADER_TIMEOUT
    state = app.demo.server.server_state
    with open_socket(app[0]) as sock:  # uvicorn makes each new connection's protocol from the config
        deadline = time.monotonic() + 5
        while not (mine := [c for c in list(state.connections) if c.client == sock.getsockname()]):
            assert time.monotonic() < deadline, "the server did not take the connection"
            time.sleep(0.05)
        assert isinstance(mine[0], protocol) and book.open.get("127.0.0.1", 0) >= 1


def test_a_100_mb_body_is_refused_unread_and_the_server_does_not_grow(app):
    url, path = app[0], "/gradio_api/call/classify"
    before = rss_mb()
    with open_socket(url) as sock:  # declared: refused from its head alone
        sent, reply = send_until_answered(sock, itertools.chain([post_head(url, path, 100 * MB)],
                                                                json_body(100 * MB)))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert t("page.door.too_large", "en").encode() in reply  # no page, no Accept-Language: English
    assert sent < 20 * MB  # the client's and the server's socket buffers, no more
    with open_socket(url) as sock:  # chunked: counted as it comes, cut off past 1 MB
        sent, reply = send_until_answered(sock, itertools.chain([post_head(url, path)],
                                                                chunked(json_body(100 * MB))))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert sent < 20 * MB
    assert rss_mb() - before < 40
    with open_socket(url) as sock:  # from a Chinese page: in Chinese
        sock.sendall(post_head(url, path, 2 * MB, extra=f"Referer: {url}?lang=zh\r\n"))
        assert t("page.door.too_large", "zh").encode() in answer(sock)
    small = loopback.post(url.rstrip("/") + "/gradio_api/queue/join", json={"data": ["x" * 500_000]}, timeout=60)
    assert small.status_code in (400, 422) and "detail" in small.json()  # read and refused by Gradio
    picture = loopback.post(url.rstrip("/") + "/gradio_api/upload",
                            files={"files": ("big.png", b"\x89PNG" + bytes(2 * MB))}, timeout=60)
    assert picture.status_code == 200, picture.text  # uploads keep their own, larger limit


def test_slow_connections_are_closed_and_capped_per_address(app):
    url = app[0]
    book = serve.guard_connections(app.demo, per_address=5, header_timeout=2, idle_timeout=2,
                                   keep_alive=1, limit_local=True, busy=too_many_connections())
    host, port = address_of(url)
    try:
        started = time.monotonic()
        slow = [open_socket(url) for _ in range(4)]
        for sock in slow:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n".encode())  # never finished
        body_stalls = open_socket(url)
        body_stalls.sendall(post_head(url, "/gradio_api/call/classify", 100) + b'{"data": [')
        slow.append(body_stalls)
        with open_socket(url) as refused:  # one over the cap: a 503 before it sends anything
            reply = answer(refused, timeout=5)
        assert reply.startswith(b"HTTP/1.1 503"), reply
        assert all(t("page.door.busy", lang).encode() in reply for lang in ("en", "zh"))
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30) as other:
            assert other.get(url).status_code == 200  # another address is not affected
        assert all(closed_by_server(sock, within=8) for sock in slow)
        assert time.monotonic() - started < 10
        for sock in slow:
            sock.close()
        time.sleep(0.2)
        assert book.open == {}
        with loopback.http_client(timeout=30) as same:  # room again; an idle keep-alive connection goes
            assert same.get(url).status_code == 200
        with open_socket(url) as idle:
            asked = time.monotonic()
            idle.sendall(f"GET /config HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            assert answer(idle, timeout=6).startswith(b"HTTP/1.1 200")
            assert time.monotonic() - asked < 5  # closed by the server after 1 s idle
    finally:
        serve.guard_connections(app.demo, busy=too_many_connections())


def test_the_loopback_is_not_capped_unless_asked_and_the_total_always_is():
    book = connections.ConnectionBook(total=6, per_address=2)
    assert all(book.admit("127.0.0.1") for _ in range(3))  # the machine itself (Node, a proxy)
    assert book.admit("10.0.0.7") and book.admit("10.0.0.7") and not book.admit("10.0.0.7")
    assert book.admit("10.0.0.8") and not book.admit("10.0.0.9")  # 6 open in all
    book.release("10.0.0.7")
    assert book.admit("10.0.0.9") and book.refused == 2
    with pytest.raises(ValueError, match="per_address=0"):
        connections.ConnectionBook(total=10, per_address=0)


def test_the_open_file_limit_is_raised_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))  # a laptop's default
        raised = door.raise_open_file_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised
        assert raised == (hard if hard != resource.RLIM_INFINITY else door.FILE_LIMIT_WITHOUT_HARD_LIMIT)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_cap_per_address_comes_from_the_settings_and_not_behind_a_proxy():
    server = types.SimpleNamespace(config=types.SimpleNamespace())  # what guard sets on a uvicorn server
    demo = types.SimpleNamespace(server=server)
    settings = Settings.from_environ({"MOBILENET_MAX_CONNECTIONS_PER_ADDRESS": "7"})
    book = serve.guard_connections(demo, settings.connections_per_address)
    assert book.per_address == 7 and server.config.http_protocol_class.book is book
    assert book.total == max(64, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2)
    on_a_space = Settings.from_environ({"MOBILENET_MAX_CONNECTIONS_PER_ADDRESS": "7", "SPACE_ID": "teacher/lab"})
    assert serve.guard_connections(demo, on_a_space.connections_per_address).per_address is None  # all the proxy's


@needs_node
def test_a_launch_behind_node_survives_another_process_taking_its_port(monkeypatch):
    """Gradio 6.31 probes a free port for Python behind Node, then binds it: here another
    "process" takes the port in between (what a second test process or script launching at the
    same moment did in CI); the launch is tried again on a newly probed port."""
    import gradio as gr
    import gradio.blocks

    probe = getattr(gradio.blocks, "_find_free_port", None)
    assert probe is not None, "gradio.blocks._find_free_port (the SSR port probe) is gone: check Blocks.launch"
    taken = []

    def probe_then_lose_the_port(host, start, try_count=100):
        port = probe(host, start, try_count)
        if not taken:
            thief = socket.socket()
            thief.bind(("127.0.0.1", port))
            thief.listen()
            taken.append(thief)
        return port

    monkeypatch.setattr(gradio.blocks, "_find_free_port", probe_then_lose_the_port)
    with gr.Blocks() as demo:
        gr.Markdown("behind Node")
    ssr = Settings(ssr=True)
    try:
        url = serve.launch_on_loopback(demo, serve.server_options(ssr), ssr, timeout=60)
        assert demo._node_is_proxy and httpx.get(f"{url.rstrip('/')}/config", timeout=30).status_code == 200
        assert demo.server_port != taken[0].getsockname()[1]
    finally:
        gradio_patches.stop_server_side_rendering(demo)
        demo.close()
        taken[0].close()


def test_gradios_routes_that_keep_what_a_client_sends_are_closed(app):
    """A deep link writes the session's values to a new file per call (the page has no deep-link
    button); a screen recording is stored and given to ffmpeg in the server; a reload stream
    (of Gradio's development mode) looks at the app every 50 ms while it is open; the run history
    calls the Hugging Face Hub with a client's token and bucket."""
    from gradio.utils import get_upload_folder

    app.demo.state_holder["door-test-session"]  # a session, as a page's first event makes one
    base = app[0].rstrip("/")
    for path in ("/gradio_api/deep_link", "//gradio_api/deep_link/", "/gradio_api/deep_link/"):
        answered = httpx.get(f"{base}{path}", params={"session_hash": "door-test-session"}, timeout=30)
        assert answered.status_code == 404, (path, answered.status_code, answered.text[:200])
    assert not os.path.exists(os.path.join(get_upload_folder(), "deep_links"))
    recording = httpx.post(f"{base}/gradio_api/process_recording", timeout=30,
                           files={"video": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000, "video/mp4")})
    assert recording.status_code == 404, (recording.status_code, recording.headers)
    with httpx.stream("GET", f"{base}/gradio_api/dev/reload", timeout=30) as reloading:  # else endless
        assert reloading.status_code == 404
    for path in ("/gradio_api/runs", "/gradio_api/run-history/buckets", "/gradio_api/run-history/records"):
        assert httpx.get(f"{base}{path}", timeout=30).status_code == 404, path
    assert httpx.get(f"{base}/config", timeout=30).json()["run_history"] is False
