"""Connections at the door: a header timeout, an idle timeout and caps on open connections (per
client address and in all), so that slow or idle connections cannot use up the server's files.

- **Header timeout**: a connection that has not sent a whole request head (request line and
  headers) ``header_timeout`` seconds after it opened, or after the first byte of its next request,
  is closed. Counted from the start, not reset by each byte: a byte every few seconds does not
  keep it open.
- **Idle timeout**: a request whose body stops arriving for ``idle_timeout`` seconds is closed
  (not while the server itself has paused reading because the app is busy with what came).
  Between requests, uvicorn's keep-alive timeout closes an idle connection (``keep_alive``).
- **Caps**: at most ``per_address`` open connections per client address, and ``total`` in all.
  One over is answered 503 and closed at once, before anything is read, so it holds a file for
  no longer than that. The machine itself (loopback: the teacher's own browser, Gradio's Node
  server in front of Python, a reverse proxy on the same machine) is not capped per address
  unless ``limit_local``; neither is anything behind a trusted proxy, where every connection
  comes from the proxy (the caller passes ``per_address=None`` then).

Gradio's ``launch()`` builds its own uvicorn server and takes no uvicorn options, and uvicorn has
no timeout for a connection that never finishes its headers. So ``guard(server, ...)`` gives the
running server a subclass of uvicorn's h11 protocol for the connections that arrive from then on.
Written for uvicorn 0.55 with h11 0.16, where ``Server.startup``'s ``create_protocol`` reads
``config.http_protocol_class`` for each new connection, and the protocol reads
``config.timeout_keep_alive`` when it is made; ``tests/test_door.py`` fails if that stops holding.
"""

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from classroom.clients import UNKNOWN, is_local

HEADER_TIMEOUT = 15.0  # s; a request head is one packet or a few: a phone on bad Wi-Fi needs < 5 s
IDLE_TIMEOUT = 30.0  # s without a byte of a request body (a slow upload still sends every second)
KEEP_ALIVE = 5.0  # s an idle connection is kept between requests (uvicorn's and Gradio's default)
BUSY = "Too many connections from your computer: close a few tabs, then try again."


class ConnectionBook:
    """Open connections per client address and in all; lives on the server's event loop."""

    def __init__(self, total, per_address=None, limit_local=False):
        if total <= 0 or (per_address is not None and per_address <= 0):
            raise ValueError(f"Connection caps must be positive. Received: total={total}, "
                             f"per_address={per_address}")
        self.total, self.per_address, self.limit_local = total, per_address, limit_local
        self.open = {}  # address -> open connections
        self.count = 0  # open connections in all
        self.refused = 0

    def admit(self, address):
        """Counts a new connection from ``address``; False (not counted) when it is over a cap."""
        count = self.open.get(address, 0)
        capped = self.per_address is not None and (self.limit_local or not is_local(address))
        if self.count >= self.total or (capped and count >= self.per_address):
            self.refused += 1
            return False
        self.open[address] = count + 1
        self.count += 1
        return True

    def release(self, address):
        self.count -= 1
        count = self.open.get(address, 0) - 1
        if count > 0:
            self.open[address] = count
        else:
            self.open.pop(address, None)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the timeouts and caps above; ``guard`` sets the class fields."""

    book: ConnectionBook
    header_timeout = HEADER_TIMEOUT
    idle_timeout = IDLE_TIMEOUT
    busy = BUSY

    def connection_made(self, transport):
        super().connection_made(transport)
        self._address = self.client[0] if self.client else UNKNOWN
        self._header_timer = self._idle_timer = None
        self._counted = self.book.admit(self._address)
        if not self._counted:
            body = self.busy.encode()
            transport.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
                            b"connection: close\r\nretry-after: 10\r\ncontent-length: %d\r\n\r\n%s"
                            % (len(body), body))
            transport.close()
            return
        self._header_timer = self.loop.call_later(self.header_timeout, self._close_if_waiting, h11.IDLE)

    def data_received(self, data):
        if not self._counted:
            return
        if self.conn.their_state is h11.IDLE and self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._close_if_waiting, h11.IDLE)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._header_timer = _cancel(self._header_timer)
        self._idle_timer = _cancel(self._idle_timer)
        if self.conn.their_state is h11.SEND_BODY:
            self._idle_timer = self.loop.call_later(self.idle_timeout, self._close_if_waiting, h11.SEND_BODY)

    def _close_if_waiting(self, state):
        """Closes the connection if the client still owes the request head (``h11.IDLE``) or
        body (``h11.SEND_BODY``) it owed when the timer was set."""
        if state is h11.IDLE:
            self._header_timer = None
        else:
            self._idle_timer = None
        if self.conn.their_state is not state or self.transport.is_closing():
            return
        if state is h11.SEND_BODY and self.flow.read_paused:  # the app has not taken what came
            self._idle_timer = self.loop.call_later(self.idle_timeout, self._close_if_waiting, state)
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
        self.transport.close()

    def connection_lost(self, exc):
        self._forget()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event):
        self._forget()  # another protocol takes the connection over (Gradio itself uses none)
        super().handle_websocket_upgrade(event)

    def _forget(self):
        self._header_timer = _cancel(self._header_timer)
        self._idle_timer = _cancel(self._idle_timer)
        if self._counted:
            self._counted = False
            self.book.release(self._address)


def _cancel(timer):
    if timer is not None:
        timer.cancel()
    return None


def guard(server, total, per_address=None, header_timeout=HEADER_TIMEOUT, idle_timeout=IDLE_TIMEOUT,
          keep_alive=KEEP_ALIVE, limit_local=False, busy=BUSY):
    """Puts the timeouts and caps on the connections that ``server`` (a started
    ``uvicorn.Server``, e.g. Gradio's ``demo.server``) accepts from now on; returns their
    ``ConnectionBook``.

    Args:
        server: the running uvicorn server.
        total: the most open connections in all.
        per_address: the most open connections per client address; None: no cap per address.
        header_timeout: seconds a connection has to send a whole request head (default 15).
        idle_timeout: seconds a request body may pause (default 30).
        keep_alive: seconds an idle connection is kept between requests (default 5).
        limit_local: cap loopback addresses per address too (tests; default False).
        busy: the text of the 503 that a connection over a cap gets.
    """
    book = ConnectionBook(total, per_address, limit_local)
    server.config.timeout_keep_alive = keep_alive
    server.config.http_protocol_class = type("GuardedH11Protocol", (GuardedH11Protocol,), {
        "book": book, "header_timeout": header_timeout, "idle_timeout": idle_timeout, "busy": busy})
    return book
