"""pylibmc (libmemcached) against kestrel (test/clients/run.ts): the text protocol, with cas
behaviour on for gets; and binary=True, whose set kestrel refuses at once (binary_protocol).
libmemcached's poll timeout (5 s) is longer than any t= used here."""
import time

import pylibmc

from queue_checks import gets_check, noreply_check, queue_checks
from report import HOST, PORT, check, expect, fails_fast, version

version(pylibmc.__version__ + " (libmemcached " + pylibmc.libmemcached_version + ")")


def client(**behaviors):
    return pylibmc.Client([f"{HOST}:{PORT}"], binary=False, behaviors={"cas": True, **behaviors})


c = client()


def types(q):
    text = "compressible " * 1000
    values = [42, 2**70, True, "héllo ✓", {"list": [1, 2.5, None]}, b"raw", text]
    for value in values:
        c.set(q, value, min_compress_len=100)
    expect([c.get(q) for _ in values], values, "typed and compressed values")


def stats(q):
    c.set(q, b"s")
    [(_, values)] = c.get_stats()  # libmemcached keeps memcached's own stats only: no queue_* ones
    expect(values.get("curr_items"), b"1", "curr_items")
    server = values["version"].decode()
    if int(server.split(".")[0]) < 1:
        raise AssertionError(f"version {server}")
    return f"version {server}"


def binary_protocol(q):
    """A set fails at once. (A get reads as a miss: libmemcached's fetch turns a server's error
    reply into "not found".)"""
    binary_client = pylibmc.Client([f"{HOST}:{PORT}"], binary=True)
    started = time.monotonic()
    try:
        binary_client.set(q, b"x")
    except pylibmc.Error as error:
        return fails_fast(error, time.monotonic() - started)
    raise AssertionError(f"set over the binary protocol did not fail ({time.monotonic() - started:.2f} s)")


quiet = client(_noreply=True)
for scenario in (*queue_checks(c, client, c.get_multi), types, gets_check(c), noreply_check(quiet, quiet.set), stats, binary_protocol):
    check(scenario.__name__, scenario)
