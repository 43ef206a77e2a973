"""python-memcached (module memcache) against kestrel (test/clients/run.ts). dead_retry=0: after
an error the client otherwise skips the server for 30 s. Its socket_timeout (3 s) is longer than
any t= used here."""
import threading

import memcache

from report import BINARY, HOST, LARGE, PORT, check, expect, version

version(memcache.__version__)


def client():
    return memcache.Client([f"{HOST}:{PORT}"], dead_retry=0, cache_cas=True)


c = client()


def order(q):
    for n in (1, 2, 3):
        expect(c.set(q, b"item %d" % n), True, "set")
    expect([c.get(q) for _ in range(4)], [b"item 1", b"item 2", b"item 3", None], "items")


def blocking(q):
    expect(c.get(q + "/t=500"), None, "get/t=500 on an empty queue")
    taken = []
    waiter = threading.Thread(target=lambda: taken.append(client().get(q + "/t=2500")))
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


def types(q):
    text = "compressible " * 1000
    values = [42, 2**70, "héllo ✓", {"list": [1, 2.5, None]}, b"raw", text]
    for value in values:
        c.set(q, value, min_compress_len=100)
    expect([c.get(q) for _ in values], values, "typed and compressed values")


def gets(q):
    c.set(q, b"x")
    expect(c.gets(q), b"x", "gets value")
    cas = c.cas_ids.get(q.encode())  # keyed by the key as it came back: bytes
    if cas is None:
        raise AssertionError("no cas unique")
    return f"cas {cas}"


def noreply(q):
    c.set(q, b"n1", noreply=True)
    c.set(q, b"n2", noreply=True)
    expect([c.get(q), c.get(q), c.get(q)], [b"n1", b"n2", None], "items set with noreply")


def multiget(q):
    c.set(q, b"one")
    c.set(q, b"two")
    expect(c.get_multi([q, q]), {q: b"one"}, "get_multi of one queue twice")
    expect(c.get(q), b"two", "the item after")


def stats(q):
    c.set(q, b"s")
    [(_, values)] = c.get_stats()
    expect(values.get("queue_" + q + "_items"), "1", "queue items stat")
    server = values["version"]
    if int(server.split(".")[0]) < 1:
        raise AssertionError(f"version {server}")
    return f"version {server}"


for scenario in (order, blocking, reliable, binary, large, types, gets, noreply, multiget, stats):
    check(scenario.__name__, scenario)
