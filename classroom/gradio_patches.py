"""Every place the app reaches into Gradio's internals, written for gradio 6.31.x.

``tests/test_framework_patches.py`` checks that the installed Gradio still has the shape each
patch relies on, and names what to check when an upgrade breaks one. Searched before deciding
(gradio 6.31's docs and guides "Queuing" and "Internationalization", its issue threads, its
source: ``gradio/queueing.py``, ``gradio/blocks.py``, the shipped ``templates/``):

1. **A queue with an admission rule and an order of its own** (``PolicyQueue``,
   ``install_queue``). Public: ``Blocks.queue(max_size=, default_concurrency_limit=)`` and an
   event's ``concurrency_limit``/``concurrency_id``: one size limit for everyone and a FIFO line
   per concurrency group; nothing caps one client, or orders the line by client.
   ``Blocks.queue`` builds ``gradio.queueing.Queue`` itself (no class or hook to pass), so the
   queue's class is swapped after ``demo.queue()`` for a subclass that overrides
   ``Queue.push(body, request, username)``; it reads ``Queue.event_ids_to_events`` (the events
   waiting or running), ``Event.session_hash`` and the waiting line
   ``Queue.event_queue_per_concurrency_id[concurrency_id].queue`` (a list it reorders), and
   keeps the app's own marks on Gradio's ``Event`` objects.
2. **Every event queued** (``queue_every_event``): Gradio makes some events unqueued itself (an
   example's loading, a step run only in the browser), and those are served on its direct
   routes even with ``api_open=False``, past every cap. An event's public ``queue=`` argument
   reaches only the events the app wires; so ``BlockFunction.queue`` is set on all of ``demo.fns``.
3. **Gradio's locale, switched from the page** (``LOCALE_SETTER_JS``). Public: ``gr.I18n``
   given to ``launch``, which translates in the browser's locale as the page starts, and
   Gradio's Settings panel; nothing a page's ``js`` can call, no URL parameter. Gradio's i18n
   module (the one that sets ``fallbackLocale``) has a one-line setter of its locale store:
   exported as ``changeLocale`` from ``templates/frontend/assets/core-*.js`` (no server-side
   rendering), under a minified name from ``templates/node/build/client/.../chunks/*.js``
   (with it). The page finds that module among its loaded scripts and imports it again (the
   same module instance), taking ``changeLocale`` or else the function whose source matches
   ``LOCALE_SETTER_SOURCE``.
4. **No statistics for a dashboard the app does not open** (``PolicyQueue.compute_analytics_summary``).
   After every event Gradio's queue builds a pandas table of its last 10,000 events and their
   percentiles per function (``Queue.compute_analytics_summary``), read only by its monitoring
   dashboard (``launch(enable_monitoring=True)``, which the app never passes): 12-18 ms of CPU per
   event measured with 40 functions, on the 2 cores that serve the class. Public: the
   undocumented ``GRADIO_ANALYTICS_CACHE_FREQUENCY`` variable, read when the queue is built; the
   subclass the app already installs answers the cached (empty) summary instead.
5. **Node stopped with the app** (``stop_server_side_rendering``). With server-side rendering
   Gradio starts a Node process (``Blocks.node_process``) and stops it only when this process
   gets SIGTERM or SIGINT (``gradio/node_server.py``'s ``install_shutdown_handlers``, replaced by
   ``app.py``'s own SIGTERM handler); ``Blocks.close()`` leaves it running, so an app closed any
   other way left Node serving the port. Public: nothing; the app stops it with
   ``gradio.node_server.stop_node_process`` when it closes.
6. **A queue that does not spin while it waits** (``install_queue``: ``IDLE_POLL_S``,
   ``PROGRESS_POLL_S``). Gradio's queue has no wake-up for a new event: its loop looks for work
   and sleeps ``Queue.sleep_when_free`` between looks, 1 ms off Windows (50 ms on it), and its
   progress loop ``Queue.progress_update_sleep_when_free``, 10 ms (100 ms on Windows), also while
   every worker is busy and events wait. Measured on the AMD EPYC, the server thread's CPU over
   15 s with no client: 3.7-5 % of a core; with 10 ms and 100 ms 2.3 %, with 20 ms 1.5 %, with
   50 ms 0.8 %. Public: nothing; the app sets the two attributes when it installs its queue, to
   20 ms and 100 ms: an event waits at most 20 ms more to start (10 ms on average, against the
   tens to hundreds of milliseconds of the app's answers), a progress bar moves ten times a second.
7. **A session's copy of the page's configuration made when it is read** (``lazy_session_configs``).
   Every new session (a page, an API call without one) builds ``SessionState.config_values``: the
   configuration of every block of the page, which Gradio reads only to save a deep link
   (``/gradio_api/deep_link``, which the app refuses at the door: ``classroom.door``) and updates
   as events change values. Measured with this app's 198 blocks: 15.6 ms of CPU and 328 KB per
   new session (13 KB and 0.03 ms with the patch), so the server's ``SESSIONS_KEPT`` sessions
   held 328 MB of copies no one reads.
   Public: nothing (``state_session_capacity`` bounds how many). The app replaces
   ``SessionState.__init__`` by one that starts with no copies and ``SessionState.components`` by
   one that makes the missing ones when read, so a deep link, where one is served, holds what it
   held before (``tests/test_framework_patches.py`` compares the two).
"""

import json
from copy import copy

from gradio.queueing import Queue
from gradio.state_holder import SessionState

WRITTEN_FOR = "gradio 6.31.x"
# Gradio's own, kept for the test that compares them with patch 7's
GRADIO_SESSION_INIT, GRADIO_SESSION_COMPONENTS = SessionState.__init__, SessionState.components
IDLE_POLL_S = 0.02  # patch 6: how long the queue's loop sleeps when it has nothing to start
PROGRESS_POLL_S = 0.1  # and its progress loop


class PolicyQueue(Queue):
    """Gradio's queue, asking ``refusal`` before it takes an event and ``place`` where the new
    event goes in its line (the default: where Gradio put it, at the end)."""

    def refusal(self, session, request, pending):
        """A message refusing a new event of ``session`` (``request``: its ``fastapi.Request``),
        or None to take it; ``pending``: (session, event) of every event waiting or running."""
        return None

    def admitted(self, event, request):
        """Called with each event taken, before ``place``: the time to mark it."""

    def place(self, event, line):
        """The index in ``line`` (its concurrency group's waiting events, without it) where
        ``event`` goes."""
        return len(line)

    def compute_analytics_summary(self, records):
        """The monitoring dashboard's summary, left empty (patch 4 of the module docstring)."""
        return self.cached_event_analytics_summary

    async def push(self, body, request, username):
        pending = [(event.session_hash, event) for event in list(self.event_ids_to_events.values())]
        message = self.refusal(body.session_hash, request, pending)
        if message is not None:
            return False, message, "error"
        success, event_id, state = await super().push(body, request, username)
        event = self.event_ids_to_events.get(event_id) if success else None
        if event is not None:
            self.admitted(event, request)
            line = self.event_queue_per_concurrency_id[event.concurrency_id].queue
            if line and line[-1] is event:  # else already taken (a cached answer) or moved: leave it
                line.pop()
                line.insert(self.place(event, line), event)
        return success, event_id, state


def install_queue(demo, queue_class, **attributes):
    """Makes ``demo``'s queue (after ``demo.queue()``) a ``queue_class`` (a ``PolicyQueue``) with
    these ``attributes`` set; returns ``demo``."""
    queue = demo._queue
    queue.__class__ = queue_class
    queue.sleep_when_free, queue.progress_update_sleep_when_free = IDLE_POLL_S, PROGRESS_POLL_S  # patch 6
    for name, value in attributes.items():
        setattr(queue, name, value)
    return demo


def queue_every_event(demo):
    """Puts every event of ``demo`` in its queue, those Gradio made unqueued included."""
    for fn in demo.fns.values():
        fn.queue = True


# A JavaScript regular expression (and a Python one: the test matches it against the shipped
# files): the source of a one-argument function whose body only sets a store, ``function
# y(e){r.set(e)}``.
LOCALE_SETTER_SOURCE = r"^function\s*\w*\(\w+\)\s*\{\s*\w+\.set\(\w+\);?\s*\}$"

# Declares ``findLocaleSetter()`` (async: Gradio's locale setter, or null) in a page's ``js``.
LOCALE_SETTER_JS = r"""
  const findLocaleSetter = async () => {
    if (window.mobilenetLocaleSetter) return window.mobilenetLocaleSetter;
    const names = performance.getEntriesByType("resource").map((e) => e.name).filter((n) => /\.js($|\?)/.test(n));
    for (const name of names.sort((a, b) => /\/core-/.test(b) - /\/core-/.test(a))) {
      try {
        if (!(await (await fetch(name)).text()).includes("fallbackLocale")) continue;
        const module = await import(name);
        const setter = module.changeLocale || Object.values(module).find((f) => typeof f === "function"
          && new RegExp(%s).test(String(f)));
        if (setter) return (window.mobilenetLocaleSetter = setter);
      } catch (error) {}
    }
    return null;
  };""" % json.dumps(LOCALE_SETTER_SOURCE)


def stop_server_side_rendering(demo):
    """Stops the Node process of ``demo``'s server-side rendering, if it started one (patch 5)."""
    from gradio.node_server import stop_node_process

    node = getattr(demo, "node_process", None)
    if node is not None and node.poll() is None:
        stop_node_process(node)


def _session_without_copies(self, blocks):
    """``SessionState.__init__`` of gradio 6.31 without building ``config_values`` (patch 7)."""
    self.blocks_config = copy(blocks.default_config)
    self.config_keys = [key for key in self.blocks_config.blocks if key in blocks.blocks]
    self.config_values = {}
    self.state_data = {}
    self._state_ttl = {}
    self.is_closed = False
    self.STATE_TTL_WHEN_CLOSED = 3600  # Gradio's, outside its own end-to-end tests


def _components_made_when_read(self):
    """``SessionState.components``: each block's configuration, those not copied yet made now
    from the session's block, in the order Gradio's eager copy had (patch 7)."""
    for key in self.config_keys:
        if key not in self.config_values:
            self.config_values[key] = self.blocks_config.config_for_block(key, [], self.blocks_config.blocks[key])
    for config in {**{key: None for key in self.config_keys}, **self.config_values}.values():
        if config:
            yield config


def lazy_session_configs():
    """Makes Gradio's sessions copy the page's configuration only when it is read (patch 7); for
    every app of this process, once."""
    SessionState.__init__ = _session_without_copies
    SessionState.components = property(_components_made_when_read)
