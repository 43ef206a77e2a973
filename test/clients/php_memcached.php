<?php
// php-memcached (libmemcached) against kestrel (test/clients/run.ts), at its defaults: text
// protocol, compression on above 2000 bytes, PHP serializer, 1 s poll timeout (longer than any t=
// used here). Its stats are libmemcached's: memcached's own fields only, no queue_* ones.
require __DIR__ . '/queue_checks.php';

version(sprintf('%s (libmemcached 0x%08x)', phpversion('memcached'), Memcached::LIBMEMCACHED_VERSION_HEX));

function client(array $options = []): Memcached {
    global $HOST, $PORT;
    $client = new Memcached();
    $client->addServer($HOST, $PORT);
    foreach ($options as $option => $value) $client->setOption($option, $value);
    return $client;
}

$c = client();

// get() that tells a miss (null) from an error (an exception).
function get(Memcached $client, string $key) {
    $value = $client->get($key);
    if ($client->getResultCode() === Memcached::RES_NOTFOUND) return null;
    if ($client->getResultCode() !== Memcached::RES_SUCCESS) throw new Exception("get $key: " . $client->getResultMessage());
    return $value;
}

queue_checks(fn ($key) => get($c, $key), fn ($key, $value) => $c->set($key, $value), fn ($keys) => $c->getMulti($keys));

check('types', function ($q) use ($c) {
    $values = typed_values();
    foreach ($values as $value) $c->set($q, $value);
    expect(array_map(fn ($value) => get($c, $q), $values), $values, 'typed and compressed values');
});

check('gets', function ($q) use ($c) {
    $c->set($q, 'x');
    $item = $c->get($q, null, Memcached::GET_EXTENDED);
    expect($item['value'] ?? $c->getResultMessage(), 'x', 'gets value');
    if (empty($item['cas'])) throw new Exception('no cas unique');
    return "cas {$item['cas']}";
});

check('noreply', function ($q) {
    $quiet = client([Memcached::OPT_NOREPLY => true]);
    $quiet->set($q, 'n1');
    $quiet->set($q, 'n2');
    expect([get($quiet, $q), get($quiet, $q), get($quiet, $q)], ['n1', 'n2', null], 'items set with noreply');
});

check('stats', function ($q) use ($c) {
    $c->set($q, 's');
    $all = $c->getStats();
    if ($all === false) throw new Exception('getStats: ' . $c->getResultMessage());
    $stats = reset($all);
    expect($stats['curr_items'] ?? null, 1, 'curr_items');
    $versions = $c->getVersion();
    if ($versions === false) throw new Exception('getVersion: ' . $c->getResultMessage());
    $version = reset($versions);
    expect($stats['version'], $version, 'stats version');
    if ((int) $version < 1) throw new Exception("version $version");
    return "version $version";
});

// A set fails at once. (A get reads as a miss: libmemcached's fetch turns a server's error reply
// into "not found".)
check('binary_protocol', function ($q) {
    $binary = client([Memcached::OPT_BINARY_PROTOCOL => true]);
    $started = microtime(true);
    $stored = $binary->set($q, 'x');
    $seconds = microtime(true) - $started;
    if ($stored) throw new Exception('set over the binary protocol did not fail');
    return fails_fast($binary->getResultMessage(), $seconds);
});
