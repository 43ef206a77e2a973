"""python-memcached (module memcache) against kestrel (test/clients/run.ts). dead_retry=0: after
an error the client otherwise skips the server for 30 s. Its socket_timeout (3 s) is longer than
any t= used here."""
import memcache

from queue_checks import noreply_check, queue_checks
from report import HOST, PORT, check, expect, version

version(memcache.__version__)


def client():
    return memcache.Client([f"{HOST}:{PORT}"], dead_retry=0, cache_cas=True)


c = client()


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


def stats(q):
    c.set(q, b"s")
    [(_, values)] = c.get_stats()
    expect(values.get("queue_" + q + "_items"), "1", "queue items stat")
    server = values["version"]
    if int(server.split(".")[0]) < 1:
        raise AssertionError(f"version {server}")
    return f"version {server}"


noreply = noreply_check(c, lambda key, value: c.set(key, value, noreply=True))
for scenario in (*queue_checks(c, client, c.get_multi), types, gets, noreply, stats):
    check(scenario.__name__, scenario)
