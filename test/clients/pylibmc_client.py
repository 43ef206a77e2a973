"""pylibmc (libmemcached) against kestrel (test/clients/run.ts): the text protocol, with cas
behaviour on for gets; and binary=True, which kestrel refuses at once (binary_protocol).
libmemcached's poll timeout (5 s) is longer than any t= used here."""
import threading
import time

import pylibmc

from report import BINARY, HOST, LARGE, PORT, check, expect, fails_fast, version

version(pylibmc.__version__ + " (libmemcached " + pylibmc.libmemcached_version + ")")


def client(**behaviors):
    return pylibmc.Client([f"{HOST}:{PORT}"], binary=False, behaviors={"cas": True, **behaviors})


c = client()


def order(q):
    for n in (1, 2, 3):
        expect(c.set(q, b"item %d" % n), True, "set")
    expect([c.get(q) for _ in range(4)], [b"item 1", b"item 2", b"item 3", None], "items")


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
    expect(c.set(q, LARGE), True, "set of 1 MiB")
    expect(c.get(q), LARGE, "1 MiB item")


def types(q):
    text = "compressible " * 1000
    values = [42, 2**70, True, "héllo ✓", {"list": [1, 2.5, None]}, b"raw", text]
    for value in values:
        c.set(q, value, min_compress_len=100)
    expect([c.get(q) for _ in values], values, "typed and compressed values")


def gets(q):
    c.set(q, b"x")
    value, cas = c.gets(q)
    expect(value, b"x", "gets value")
    if not cas:
        raise AssertionError(f"no cas unique: {cas!r}")
    return f"cas {cas}"


def noreply(q):
    quiet = client(_noreply=True)
    quiet.set(q, b"n1")
    quiet.set(q, b"n2")
    expect([quiet.get(q), quiet.get(q), quiet.get(q)], [b"n1", b"n2", None], "items set with noreply")


def multiget(q):
    c.set(q, b"one")
    c.set(q, b"two")
    expect(c.get_multi([q, q]), {q: b"one"}, "get_multi of one queue twice")
    expect(c.get(q), b"two", "the item after")


def stats(q):
    c.set(q, b"s")
    [(_, values)] = c.get_stats()  # libmemcached keeps memcached's own stats only: no queue_* ones
    expect(values.get("curr_items"), b"1", "curr_items")
    server = values["version"].decode()
    if int(server.split(".")[0]) < 1:
        raise AssertionError(f"version {server}")
    return f"version {server}"


def binary_protocol(q):
    binary_client = pylibmc.Client([f"{HOST}:{PORT}"], binary=True)
    started = time.monotonic()
    try:
        binary_client.get(q)
    except pylibmc.Error as error:
        return fails_fast(error, time.monotonic() - started)
    raise AssertionError(f"get over the binary protocol did not fail ({time.monotonic() - started:.2f} s)")


for scenario in (order, blocking, reliable, binary, large, types, gets, noreply, multiget, stats, binary_protocol):
    check(scenario.__name__, scenario)
