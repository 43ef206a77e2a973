#!/usr/bin/env bash
# libmemcached-tools (memccp, memccat, memcstat, memcping) against kestrel (test/clients/run.ts).
# Each tool run is one connection: memccp sets the file's basename as the key, memccat gets its
# keys one by one on one connection (so `memccat q/open q/close` is a reliable read) and prints
# each value followed by a newline, and a miss is exit code 1. libmemcached's read timeout (5 s) is longer than any t= used here.
set -u
HOST=$1
PORT=$2
SERVERS=(--servers="$HOST:$PORT")
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

echo "version $(memccat --version | head -1)"

result() { # result NAME: pass if the last check's commands all succeeded, else fail with $WHY
  if [ -z "$WHY" ]; then echo "pass $1 ${DETAIL:-}"; else echo "fail $1 $WHY"; fi
  WHY="" DETAIL=""
}
WHY="" DETAIL=""

put() { # put QUEUE [memccp options] < BYTES: sets BYTES as an item of QUEUE (not in a pipeline: WHY must stick)
  local queue=$1; shift
  cat > "$DIR/$queue"
  memccp "${SERVERS[@]}" --basename "$@" "$DIR/$queue" || WHY="memccp failed"
}

expect_get() { # expect_get WANTED-FILE KEY...: memccat KEY... prints exactly the bytes in WANTED-FILE
  local wanted=$1; shift
  memccat "${SERVERS[@]}" "$@" > "$DIR/got" 2> "$DIR/err"
  cmp -s "$DIR/got" "$wanted" || WHY="memccat $* gave $(head -c 60 "$DIR/got" | od -An -c | tr -s ' \n' ' ') $(cat "$DIR/err")"
}

# order
for n in 1 2 3; do put order < <(printf 'item %s' $n); done
printf 'item 1\nitem 2\nitem 3\n' > "$DIR/want"
expect_get "$DIR/want" order order order
memccat "${SERVERS[@]}" order > /dev/null 2>&1 && WHY="a fourth item"
result order

# blocking: a miss after 500 ms is exit code 1 with nothing printed
memccat "${SERVERS[@]}" blocking/t=500 > "$DIR/got" 2> "$DIR/err"
[ $? -eq 1 ] && [ ! -s "$DIR/got" ] || WHY="get blocking/t=500: $(cat "$DIR/got" "$DIR/err")"
result blocking

# reliable: open then close on one connection; open then disconnect gives the item back
put reliable < <(printf a)
put reliable < <(printf b)
printf 'a\n' > "$DIR/want"
expect_get "$DIR/want" reliable/open
expect_get "$DIR/want" reliable/open reliable/abort reliable/close
printf 'a\nb\n' > "$DIR/want"
expect_get "$DIR/want" reliable/open reliable/close reliable/open reliable/close reliable
result reliable

# binary
printf 'line\r\nEND\r\n\0\r\n\x80\xff\r\n' > "$DIR/binary-want"
put binary < "$DIR/binary-want"
{ cat "$DIR/binary-want"; echo; } > "$DIR/want"
expect_get "$DIR/want" binary
result binary

# large: 1 MiB
head -c 1048576 /dev/urandom > "$DIR/large-want"
put large < "$DIR/large-want"
{ cat "$DIR/large-want"; echo; } > "$DIR/want"
expect_get "$DIR/want" large
result large

# types: the flags memccp sets come back from memccat --flags (printed on the line before the value)
put types --flags=3735928559 < <(printf typed)
printf '3735928559\ntyped\n' > "$DIR/want"
expect_get "$DIR/want" --flags types
result types

echo "skip gets the tools have no gets"
echo "skip noreply the tools have no noreply"

# stats
memcstat "${SERVERS[@]}" > "$DIR/stats" 2>&1 || WHY="memcstat: $(head -3 "$DIR/stats")"
grep -q 'version: [1-9]' "$DIR/stats" || WHY="${WHY:-memcstat printed no version >= 1: $(head -3 "$DIR/stats")}"
memcping "${SERVERS[@]}" > "$DIR/ping" 2>&1 || WHY="${WHY:-memcping: $(cat "$DIR/ping")}"
DETAIL=$(grep -o 'version: .*' "$DIR/stats")
result stats

# binary protocol: memccp --binary ends in an error within a second. (A get, memccat --binary,
# reads as a miss: libmemcached's fetch turns a server's error reply into "not found".)
started=$(date +%s%N)
put binary_protocol --binary < <(printf x) 2> "$DIR/err"
ms=$(( ($(date +%s%N) - started) / 1000000 ))
if [ -z "$WHY" ]; then WHY="memccp --binary succeeded"; else WHY=""; fi
grep -q 'memcached_set' "$DIR/err" || WHY="memccp --binary printed no error: $(cat "$DIR/err")"
[ $ms -le 1000 ] || WHY="failed only after $ms ms: $(cat "$DIR/err")"
DETAIL="error after $ms ms: $(tr '\n' ' ' < "$DIR/err")"
result binary_protocol
