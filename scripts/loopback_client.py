"""Clients of the app from this machine (the load, soak and class scripts, the tests), sharing
one TLS context.

``httpx`` builds a TLS context, loading the certificate bundle, for every ``httpx.Client`` and for
every ``httpx.get``/``post``/``stream`` call, and ``gradio_client`` makes such a call for each
request it sends: about 36 ms of CPU each, although an ``http://`` URL never uses the context.
A ``/summary`` call through ``gradio_client.Client.predict`` cost its process (client and the app
in it) 143 ms of CPU with a context per request and 66 ms with this shared one; a new
``gradio_client.Client`` 234 ms and 78 ms (AMD EPYC, 7 December 2026). On the cores that also run
the app under test, a load script's own CPU is taken from the server it measures.

The context is what ``httpx`` builds by default (certifi's bundle, certificates verified): an
``https://`` app is checked as before.
"""

import ssl

import certifi
import gradio_client
import httpx

TLS = ssl.create_default_context(cafile=certifi.where())


def api_client(url, **kwargs):
    """A quiet ``gradio_client.Client`` of ``url`` that uses ``TLS``."""
    return gradio_client.Client(url, verbose=False, ssl_verify=TLS, **kwargs)


def http_client(**kwargs):
    """An ``httpx.Client`` that uses ``TLS``."""
    return httpx.Client(verify=TLS, **kwargs)


def get(url, **kwargs):
    return httpx.get(url, verify=TLS, **kwargs)


def post(url, **kwargs):
    return httpx.post(url, verify=TLS, **kwargs)
