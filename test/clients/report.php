<?php
// Result lines for test/clients/run.ts, shared by the PHP scenarios. A scenario calls
// check($name, $fn): $fn throws (expect() or the client) to fail, returns null to pass or a string
// to pass with a detail; skip($name, $why) says the client has no way to do it. Every check uses
// its own queue, named after the check.

[, $HOST, $PORT] = $argv;
$PORT = (int) $PORT;

// Bytes a text-protocol client must carry untouched: CR LF, NUL, an "END" line, every byte value.
$BINARY = "line\r\nEND\r\n\0\r\n" . implode(array_map('chr', range(0, 255))) . "\r\n";
// 1 MiB, not compressible (so clients that compress still send the full size).
$LARGE = random_bytes(1 << 20);
const FAIL_FAST_SECONDS = 1.0;

function version(string $text): void {
    echo "version $text\n";
}

function shown($value): string {
    $text = var_export($value, true);
    $text = strlen($text) > 80 ? substr($text, 0, 77) . '...' : $text;
    return str_replace(["\r", "\n"], ['\r', '\n'], $text);
}

// Same value and type, objects compared by value: serialize() writes both out exactly.
function expect($actual, $wanted, string $what): void {
    $same = serialize($actual) === serialize($wanted);
    if (!$same) throw new Exception("$what: got " . shown($actual) . ", wanted " . shown($wanted));
}

// A binary-protocol client's request must end in an error from the server's reply within a
// second, long before the client's own timeout would end it.
function fails_fast(string $error, float $seconds): string {
    $took = sprintf('%.2f s', $seconds);
    if ($seconds > FAIL_FAST_SECONDS) throw new Exception("failed only after $took: $error");
    return "error after $took: $error";
}

function check(string $name, callable $fn): void {
    try {
        $detail = $fn($name);
        echo "pass $name " . ($detail ?? '') . "\n";
    } catch (Throwable $error) {
        echo "fail $name " . get_class($error) . ': ' . str_replace("\n", ' ', $error->getMessage()) . "\n";
    }
}

function skip(string $name, string $why): void {
    echo "skip $name $why\n";
}

function typed_values(): array {
    $object = new stdClass();
    $object->list = [1, 2.5, null];
    return [42, 3.5, true, 'héllo ✓', ['a' => [1, 2]], $object, str_repeat('compressible ', 4000)];
}
