"""Every answer of the app's Python server carries the security headers (``classroom.headers``).

The app turns Gradio's server-side rendering off, on Spaces too, so that Python serves
everything. Where it is turned on (``MOBILENET_SSR=1``), Node renders the HTML page and serves its
own bundle; those answers carry Node's headers, not ours. Everything else (API, config, files,
Python's static files) still comes from Python.
"""

import re
import urllib.parse
import urllib.request

import pytest

from app_server import running_app
from browser_support import RENDERINGS
from classroom.settings import Settings


def headers_of(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.headers, response.read().decode("utf-8", "replace")


@pytest.mark.parametrize("ssr", RENDERINGS)
def test_pages_assets_and_api_answers_say_nosniff(tiny_cifar, tiny_checkpoint, tmp_path, ssr):
    with running_app(str(tmp_path), tiny_cifar[1], tiny_checkpoint, ssr_mode=ssr) as (url, _, _):
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


def test_the_app_serves_everything_itself_unless_told_otherwise(monkeypatch):
    from demo.ui import launch_options

    monkeypatch.setenv("GRADIO_SSR_MODE", "true")  # as on a Space
    monkeypatch.setenv("GRADIO_NUM_WORKERS", "2")
    options = launch_options()
    assert options["ssr_mode"] is False and options["num_workers"] == 0
    assert launch_options(Settings.from_environ({"MOBILENET_SSR": "1"}))["ssr_mode"] is True
