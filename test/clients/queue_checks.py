"""The checks the Python clients do alike: queue order, blocking gets, reliable reads, a binary and
a 1 MiB item, and a multi-key get naming one queue twice (queue_checks); gets and noreply where
the clients' calls have the same shape. A client is anything with get(key) -> value or None and
set(key, value) -> True; connect() makes another one (another connection); get_multi(keys) ->
{key: value} is the client's multi-key get."""
import threading

from report import BINARY, LARGE, expect

WAIT_MS = 2500  # a blocking get's t=, shorter than every Python client's read timeout here


def queue_checks(c, connect, get_multi):
    def order(q):
        for n in (1, 2, 3):
            expect(c.set(q, b"item %d" % n), True, "set")
        expect([c.get(q) for _ in range(4)], [b"item 1", b"item 2", b"item 3", None], "items")

    def blocking(q):
        expect(c.get(q + "/t=500"), None, "get/t=500 on an empty queue")
        taken = []
        waiter = threading.Thread(target=lambda: taken.append(connect().get(f"{q}/t={WAIT_MS}")))
        waiter.start()
        expect(c.set(q, b"late"), True, "set")
        waiter.join()
        expect(taken, [b"late"], "item handed to the waiting get")

    def reliable(q):
        c.set(q, b"a")
        c.set(q, b"b")
        expect(c.get(q + "/open"), b"a", "open")
        expect(c.get(q + "/abort"), None, "abort")
        expect(c.get(q + "/open"), b"a", "open after abort")
        expect(c.get(q + "/close/open"), b"b", "close/open")
        expect(c.get(q + "/close"), None, "close")
        expect(c.get(q), None, "queue after close")

    def binary(q):
        c.set(q, BINARY)
        expect(c.get(q), BINARY, "binary item")

    def large(q):
        expect(c.set(q, LARGE), True, "set of 1 MiB")
        expect(c.get(q), LARGE, "1 MiB item")

    def multiget(q):
        c.set(q, b"one")
        c.set(q, b"two")
        expect(get_multi([q, q]), {q: b"one"}, "multi-key get of one queue twice")
        expect(c.get(q), b"two", "the item after")

    return [order, blocking, reliable, binary, large, multiget]


def gets_check(c):
    """The gets check for a client whose gets(key) returns (value, cas)."""

    def gets(q):
        c.set(q, b"x")
        value, cas = c.gets(q)
        expect(value, b"x", "gets value")
        if not cas:
            raise AssertionError(f"no cas unique: {cas!r}")
        return f"cas {cas.decode() if isinstance(cas, bytes) else cas}"

    return gets


def noreply_check(c, set_noreply):
    """Two items set with set_noreply(key, value) are there, in order, read on the same client."""

    def noreply(q):
        set_noreply(q, b"n1")
        set_noreply(q, b"n2")
        expect([c.get(q), c.get(q), c.get(q)], [b"n1", b"n2", None], "items set with noreply")

    return noreply
