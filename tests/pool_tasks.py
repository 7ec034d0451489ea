"""Tasks for tests/test_work_pool.py, in a module a worker process can import."""

import os
import threading
import time

from classroom.work_pool import cpu_budget, report


def echo(value):
    return value


def pid():
    return os.getpid()


def abort():
    os.abort()  # what glibc does on heap corruption: SIGABRT, no Python exception


def spin(seconds=None):
    """Burns CPU (forever without ``seconds``)."""
    end = time.process_time() + seconds if seconds else float("inf")
    while time.process_time() < end:
        pass
    return "done"


def spin_while_decoding():
    with cpu_budget(0.5, phase="decode"):
        spin()


def sleep(seconds):
    time.sleep(seconds)
    return "slept"


def sleep_and_note(seconds, path):
    """Sleeps, then appends this worker's pid to ``path``: which workers ran a broadcast."""
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")


def grow(megabytes):
    """Holds ``megabytes`` of memory, touched."""
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    return len(block)


def fail(message):
    raise ValueError(message)


class Unpicklable(Exception):
    def __init__(self, message, lock):
        super().__init__(message)
        self.lock = lock


def fail_unpicklably():
    raise Unpicklable("with a lock inside", threading.Lock())


def count(n):
    for i in range(n):
        report({"done": i + 1, "total": n})
    return n
