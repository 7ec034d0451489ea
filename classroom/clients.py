"""Who is asking: the address of the computer behind a request, for per-client limits.

``client_address(request_or_scope)`` takes an ASGI scope (a dict, as a middleware sees it), a
Starlette/FastAPI ``Request`` or a ``gr.Request``, and answers with an address string.

Behind Hugging Face Spaces' proxy every request comes from the proxy; the real client is the
last entry of ``X-Forwarded-For`` (the one the proxy added: entries before it are whatever the
client sent, and a client can send anything). That header is trusted only where a proxy is
known to set it: ``trust_proxy`` (``classroom.settings``: ``MOBILENET_TRUSTED_PROXY=1``, or on
Spaces). Anywhere else it is ignored, so a client cannot pick its own address by sending it.

A whole class behind one school router (NAT) has one address: limits per address are limits
per classroom there.

``is_local(address)``: the machine itself (loopback). Without a trusted forwarded address
that is the teacher's own browser, a test, or a proxy on the same machine that does not say
who its clients are: Gradio's own server-side rendering (Node, in front of Python) is one.
Limits per client cannot tell those clients apart, so they leave local addresses alone.
"""

import ipaddress

UNKNOWN = "unknown"


def client_address(request_or_scope, trust_proxy=False):
    """The client's address: the last ``X-Forwarded-For`` entry behind a trusted proxy, else
    the connection's peer address; ``"unknown"`` when there is neither.

    Args:
        request_or_scope: an ASGI scope dict, a Starlette ``Request`` or a ``gr.Request``.
        trust_proxy: whether a proxy we trust sets ``X-Forwarded-For``. Default False.
    """
    headers, peer = _headers_and_peer(request_or_scope)
    if trust_proxy:
        forwarded = [entry.strip() for entry in headers.get("x-forwarded-for", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return peer or UNKNOWN


def _headers_and_peer(request_or_scope):
    """(lower-cased header name -> value, peer host) of a scope or a request object."""
    if isinstance(request_or_scope, dict):
        headers = {}
        for name, value in request_or_scope.get("headers") or []:
            name = name.decode("latin-1").lower()
            value = value.decode("latin-1")
            # Repeated headers are one comma-separated list (RFC 9110 §5.3).
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        client = request_or_scope.get("client")
        return headers, client[0] if client else None
    raw = getattr(request_or_scope, "headers", None) or {}
    headers = {str(name).lower(): value for name, value in raw.items()}
    if hasattr(raw, "getlist"):  # Starlette's Headers: a repeated header's every value
        headers["x-forwarded-for"] = ",".join(raw.getlist("x-forwarded-for"))
    client = getattr(request_or_scope, "client", None)
    return headers, getattr(client, "host", None)


def is_local(address):
    """Whether ``address`` is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.x.x)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)
