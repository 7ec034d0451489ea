"""A fair queue for a classroom: one client cannot fill the server's queue or push in front of
the others.

Gradio keeps one waiting line per concurrency group (a group per expensive endpoint, each with
its own limit; cheap endpoints have no limit and start at once) and one global size limit. On
its own, one script could fill that limit with requests to one slow endpoint (everyone else then
gets "Queue is full"), or stand in front of a whole class in a line. ``FairQueue`` adds:

* **A cap per client**: a browser tab (Gradio's session) may have at most ``per_session``
  requests waiting or running, and an address at most ``per_address``; the rest are refused at
  once with a message saying what to do (Gradio's own "Queue is full" is never reached by one
  client alone).
* **Fair order**: in each line, a request goes behind the requests of addresses that have fewer
  waiting, not at the end. A student's first request goes before a flooder's second; requests
  of one address keep their own order (round-robin by address, as in fair queueing).

Addresses come from ``classroom.clients.client_address`` (behind a Space's proxy, the visitor's own
address). The machine's own address has no address cap (only the tab cap): it is the teacher's
browser, or a proxy on the same machine that does not say who its clients are. A class behind one school address counts as one address: their order among each
other is first come, first served, and ``per_address`` bounds them together, so raise it
(``MOBILENET_MAX_WAITING_PER_ADDRESS``) for a large class on a Space.

Gradio has no public hook for either: how this queue takes Gradio's place is in
``classroom.gradio_patches`` (``PolicyQueue``), with Gradio's other internals.
"""

from classroom.clients import client_address, is_local
from classroom.gradio_patches import PolicyQueue, install_queue, queue_every_event
from classroom.settings import DEFAULTS

PER_SESSION = DEFAULTS.max_waiting_per_session  # the reasons for both: classroom.settings
PER_ADDRESS = DEFAULTS.max_waiting_per_address

TOO_MANY_FROM_TAB = ("You already have {count} requests waiting on this server: wait for their "
                     "answers, then try again. / 你已经有 {count} 个请求在排队：请等它们完成后再试。")
TOO_MANY_FROM_ADDRESS = ("Your computer (or network) already has {count} requests waiting on this "
                         "server: wait for their answers, then try again. / 你的电脑（或网络）已经有 "
                         "{count} 个请求在排队：请等它们完成后再试。")


class FairQueue(PolicyQueue):
    """Gradio's queue with per-client caps and fair order (see the module docstring)."""

    per_session = PER_SESSION
    per_address = PER_ADDRESS
    trust_proxy = False  # whether X-Forwarded-For names the client (classroom.clients)

    def refusal(self, session, request, pending):
        address = client_address(request, self.trust_proxy)
        in_session = sum(1 for other, _ in pending if session is not None and other == session)
        in_address = sum(1 for _, event in pending if getattr(event, "client_address", None) == address)
        if in_session >= self.per_session:
            return TOO_MANY_FROM_TAB.format(count=in_session)
        if in_address >= self.per_address and not is_local(address):
            return TOO_MANY_FROM_ADDRESS.format(count=in_address)
        return None

    def admitted(self, event, request):
        event.client_address = client_address(request, self.trust_proxy)

    def place(self, event, line):
        """Behind the requests of its round: after its own address's, keeping their order."""
        mine = [getattr(e, "fair_round", 0) for e in line if getattr(e, "client_address", None) == event.client_address]
        event.fair_round = max(mine, default=0) + 1
        return next((i for i, e in enumerate(line) if getattr(e, "fair_round", 0) > event.fair_round), len(line))


def install(demo, per_session=PER_SESSION, per_address=PER_ADDRESS, trust_proxy=False):
    """Makes ``demo``'s queue (after ``demo.queue()``) a ``FairQueue`` with these caps and puts
    every event of ``demo`` in it; ``trust_proxy``: whether ``X-Forwarded-For`` names the client."""
    queue_every_event(demo)  # an unqueued event would be served past every cap
    return install_queue(demo, FairQueue, per_session=per_session, per_address=per_address, trust_proxy=trust_proxy)
