"""pymemcache against kestrel (test/clients/run.ts). Client(..., default_noreply=False): by
default pymemcache sends set with noreply and never sees STORED or NOT_STORED."""
import threading

import pymemcache
from pymemcache import serde
from pymemcache.client.base import Client

from report import BINARY, HOST, LARGE, PORT, check, expect, version

version(pymemcache.__version__)


def client(noreply=False):
    return Client((HOST, PORT), timeout=5, connect_timeout=5, default_noreply=noreply, serde=serde.pickle_serde)


c = client()


def order(q):
    for n in (1, 2, 3):
        expect(c.set(q, b"item %d" % n), True, "set")
    got = [c.get(q) for _ in range(4)]
    expect(got, [b"item 1", b"item 2", b"item 3", None], "items")


def blocking(q):
    expect(c.get(q + "/t=500"), None, "get/t=500 on an empty queue")
    taken = []
    waiter = threading.Thread(target=lambda: taken.append(client().get(q + "/t=3000")))
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
    c.set(q, LARGE)
    expect(c.get(q), LARGE, "1 MiB item")


def types(q):
    values = [42, 2**70, "héllo ✓", {"list": [1, 2.5, None]}, b"raw"]
    for value in values:
        c.set(q, value)
    expect([c.get(q) for _ in values], values, "typed values")


def gets(q):
    c.set(q, b"x")
    value, cas = c.gets(q)
    expect(value, b"x", "gets value")
    if not cas:
        raise AssertionError(f"no cas unique: {cas!r}")
    return f"cas {cas.decode()}"


def noreply(q):
    quiet = client(noreply=True)
    expect(quiet.set(q, b"n1"), True, "set noreply")
    quiet.set(q, b"n2", noreply=True)
    expect([quiet.get(q), quiet.get(q), quiet.get(q)], [b"n1", b"n2", None], "items set with noreply")


def multiget(q):
    c.set(q, b"one")
    c.set(q, b"two")
    expect(c.get_many([q, q]), {q: b"one"}, "get_many of one queue twice")
    expect(c.get(q), b"two", "the item after")


def stats(q):
    c.set(q, b"s")
    values = c.stats()
    expect(values.get(b"queue_" + q.encode() + b"_items"), 1, "queue items stat")
    server = c.version().decode()
    expect(values[b"version"].decode(), server, "stats version")
    if int(server.split(".")[0]) < 1:
        raise AssertionError(f"version {server}")
    return f"version {server}"


for scenario in (order, blocking, reliable, binary, large, types, gets, noreply, multiget, stats):
    check(scenario.__name__, scenario)
