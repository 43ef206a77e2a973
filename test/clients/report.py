"""Result lines for test/clients/run.ts, shared by the Python scenarios.

A scenario calls check(name, fn): fn raises (an AssertionError from expect, or the client's own
error) to fail, returns None to pass or a string to pass with a detail. Every check uses its own queue, named after the check, so a failure
leaves nothing behind for the next one.
"""
import random
import sys
import traceback

HOST = sys.argv[1]
PORT = int(sys.argv[2])

# Bytes a text-protocol client must carry untouched: CR LF, NUL, an "END" line, every byte value.
BINARY = b"line\r\nEND\r\n\x00\r\n" + bytes(range(256)) + b"\r\n"
# 1 MiB, not compressible (so clients that compress still send the full size).
LARGE = random.Random(11).randbytes(1 << 20)
FAIL_FAST_SECONDS = 1.0


def version(text):
    print("version", text, flush=True)


def expect(actual, wanted, what):
    if actual != wanted or type(actual) is not type(wanted):
        shown = lambda v: repr(v) if len(repr(v)) < 80 else repr(v)[:77] + "..."
        raise AssertionError(f"{what}: got {shown(actual)}, wanted {shown(wanted)}")


def fails_fast(error, seconds):
    """A binary-protocol client's request must end in an error from the server's reply within a
    second (FAIL_FAST_SECONDS), long before the client's own timeout would end it."""
    if seconds > FAIL_FAST_SECONDS:
        raise AssertionError(f"failed only after {seconds:.2f} s: {error}")
    return f"{type(error).__name__} after {seconds:.2f} s: {error}"


def check(name, fn):
    try:
        detail = fn(name)
    except Exception as error:  # any failure of the client or of an expectation is a result
        message = f"{type(error).__name__}: {error}".replace("\n", " ")
        print("fail", name, message, flush=True)
        traceback.print_exc()
        return
    print("pass", name, detail or "", flush=True)
