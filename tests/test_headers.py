"""Every answer of the app's Python server carries the security headers (``classroom.headers``).

The app turns Gradio's server-side rendering off, on Spaces too, so that Python serves
everything. Where it is turned on (``MOBILENET_SSR=1``), Node renders the HTML page and serves its
own bundle; those answers carry Node's headers, not ours. Everything else (API, config, files,
Python's static files) still comes from Python.
"""

import re
import urllib.parse
import urllib.request

from classroom.settings import Settings


def headers_of(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.headers, response.read().decode("utf-8", "replace")


def assert_python_answers_say_nosniff(url, ssr=False):
    """The page (unless Node serves it: ``ssr``), a script or style Python serves, the config and
    the API's description all carry the security headers."""
    page_headers, page = headers_of(url)
    python_assets = [path for path in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
                     if "_app/" not in path]  # _app/: Node's own bundle (SSR)
    assert python_assets, "the page names no script or style that Python serves"
    answers = {} if ssr else {"page": page_headers}
    for path in (python_assets[0], "config", "gradio_api/info"):
        answers[path] = headers_of(urllib.parse.urljoin(url, path))[0]
    for what, headers in answers.items():
        assert headers.get("X-Content-Type-Options") == "nosniff", what
        assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", what


def test_pages_assets_and_api_answers_say_nosniff(shared_app):
    """(Behind server-side rendering: tests/test_browser_ssr.py.)"""
    assert_python_answers_say_nosniff(shared_app[0])


def test_the_app_serves_everything_itself_unless_told_otherwise(monkeypatch):
    from demo.ui import launch_options

    monkeypatch.setenv("GRADIO_SSR_MODE", "true")  # as on a Space
    monkeypatch.setenv("GRADIO_NUM_WORKERS", "2")
    options = launch_options()
    assert options["ssr_mode"] is False and options["num_workers"] == 0
    assert launch_options(Settings.from_environ({"MOBILENET_SSR": "1"}))["ssr_mode"] is True


def test_the_running_server_keeps_a_bounded_number_of_sessions(shared_app):
    """Gradio's session states, 13 KB each here (classroom.gradio_patches, patch 7): ``classroom.serve.SESSIONS_KEPT`` at most
    (its size and Gradio's eviction: ``test_ui_contract.py``)."""
    from classroom import serve

    assert shared_app.demo.state_holder.capacity == serve.SESSIONS_KEPT < 10_000
