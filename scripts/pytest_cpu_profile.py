"""Where the test suite's time goes: the CPU of every test, its worker processes included.

``--durations`` gives each test's wall time; on 2 cores shared by the suite, its apps' workers,
Chromium and Node, the CPU they use is what bounds the suite. This pytest plugin records, for
each test (its setup, call and teardown), the CPU used by the pytest process and every process
below it (request and training workers, the fork server, Chromium, Node, CLI subprocesses) from
``/proc``, and its wall time, one JSON line per test::

    PYTHONPATH=scripts python -m pytest -p pytest_cpu_profile        # writes test-artifacts/cpu-per-test*.jsonl
    python scripts/pytest_cpu_profile.py test-artifacts/cpu-per-test*.jsonl   # by module, then the top tests

Under pytest-xdist (``pytest.ini``'s ``-n 2``) each test process writes its own file
(``cpu-per-test-gw0.jsonl``, ...) and counts its own tree; the summary reads them together.

Linux only. A process that ends during a test takes its CPU out of the tree's sum unless its
parent (in the tree) reaped it, so a test can show a little less, or even negative, CPU when a
process that the earlier tests started (a module's Chromium) ends in it: read modules, not
single small tests.
"""

import collections
import json
import os
import sys
import time

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts",
                   "cpu-per-test.jsonl")


def tree_cpu_seconds(root):
    """CPU seconds (user + system, with reaped children's) of ``root`` and every process below it."""
    children, own = collections.defaultdict(list), {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after the command's name, which may hold spaces
        pid = int(name)
        children[int(fields[1])].append(pid)
        own[pid] = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    total, stack = own.get(root, 0), [root]
    while stack:
        for pid in children.get(stack.pop(), ()):
            total += own.get(pid, 0)
            stack.append(pid)
    return total / os.sysconf("SC_CLK_TCK")


_log = None


def pytest_configure(config):
    global _log
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and getattr(config.option, "numprocesses", None):
        return  # the controller of pytest-xdist's processes runs no test
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    _log = open(OUT.replace(".jsonl", f"-{worker}.jsonl") if worker else OUT, "w")


try:
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        cpu, wall = tree_cpu_seconds(os.getpid()), time.monotonic()
        yield
        _log.write(json.dumps({"test": item.nodeid, "cpu_s": round(tree_cpu_seconds(os.getpid()) - cpu, 2),
                               "wall_s": round(time.monotonic() - wall, 2)}) + "\n")
        _log.flush()
except ImportError:  # the summary below needs no pytest
    pass


def summary(paths, top=30):
    rows = [json.loads(line) for path in paths for line in open(path)]
    modules = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for row in rows:
        module = modules[row["test"].split("::")[0]]
        module[0] += row["cpu_s"]
        module[1] += row["wall_s"]
        module[2] += 1
    lines = [f"{len(rows)} tests: {sum(r['cpu_s'] for r in rows):,.0f} s of CPU in "
             f"{sum(r['wall_s'] for r in rows):,.0f} s (their processes included)", "",
             "| module | tests | CPU s | wall s |", "|---|---|---|---|"]
    for name, (cpu, wall, count) in sorted(modules.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"| {name} | {count} | {cpu:.0f} | {wall:.0f} |")
    lines += ["", "| test | CPU s | wall s |", "|---|---|---|"]
    for row in sorted(rows, key=lambda r: -r["cpu_s"])[:top]:
        lines.append(f"| {row['test']} | {row['cpu_s']:.0f} | {row['wall_s']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import glob

    print(summary(sys.argv[1:] or glob.glob(OUT.replace(".jsonl", "*.jsonl"))))
