"""pymemcache against kestrel (test/clients/run.ts). Client(..., default_noreply=False): by
default pymemcache sends set with noreply and never sees STORED or NOT_STORED."""
import pymemcache
from pymemcache import serde
from pymemcache.client.base import Client

from queue_checks import gets_check, noreply_check, queue_checks
from report import HOST, PORT, check, expect, version

version(pymemcache.__version__)


def client(noreply=False):
    return Client((HOST, PORT), timeout=5, connect_timeout=5, default_noreply=noreply, serde=serde.pickle_serde)


c = client()


def types(q):
    values = [42, 2**70, "héllo ✓", {"list": [1, 2.5, None]}, b"raw"]
    for value in values:
        c.set(q, value)
    expect([c.get(q) for _ in values], values, "typed values")


def pooled(q):
    """A pooled client (PooledClient) may send /close on another connection than the /open: it
    confirms nothing, and the queue's open_transaction_timeout (run.ts) puts the item back."""
    opener, closer = client(), client()
    c.set(q, b"p")
    expect(opener.get(q + "/open"), b"p", "open")
    expect(closer.get(q + "/close"), None, "close on another connection")
    expect(closer.get(q + "/t=3000"), b"p", "the item back after the timeout")


def stats(q):
    c.set(q, b"s")
    values = c.stats()
    expect(values.get(b"queue_" + q.encode() + b"_items"), 1, "queue items stat")
    server = c.version().decode()
    expect(values[b"version"].decode(), server, "stats version")
    if int(server.split(".")[0]) < 1:
        raise AssertionError(f"version {server}")
    return f"version {server}"


quiet = client(noreply=True)
for scenario in (*queue_checks(c, client, c.get_many), pooled, types, gets_check(c), noreply_check(quiet, quiet.set), stats):
    check(scenario.__name__, scenario)
