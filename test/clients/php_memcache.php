<?php
// php-memcache (pecl memcache) against kestrel (test/clients/run.ts), at its defaults: text
// protocol, compression above 20000 bytes, PHP serializer, connect(..., 1): a 1 s timeout,
// longer than any t= used here. get() returns false for a miss; it has no noreply.
require __DIR__ . '/report.php';

version(phpversion('memcache'));

$c = new Memcache();
if (!$c->connect($HOST, $PORT, 1)) throw new Exception("cannot connect to $HOST:$PORT");

check('order', function ($q) use ($c) {
    foreach ([1, 2, 3] as $n) expect($c->set($q, "item $n"), true, 'set');
    expect([$c->get($q), $c->get($q), $c->get($q), $c->get($q)], ['item 1', 'item 2', 'item 3', false], 'items');
});

check('blocking', function ($q) use ($c) {
    expect($c->get("$q/t=500"), false, 'get/t=500 on an empty queue');
    $c->set($q, 'ready');
    expect($c->get("$q/t=500"), 'ready', 'get/t=500 with an item');
});

check('reliable', function ($q) use ($c) {
    $c->set($q, 'a');
    $c->set($q, 'b');
    expect($c->get("$q/open"), 'a', 'open');
    expect($c->get("$q/abort"), false, 'abort');
    expect($c->get("$q/open"), 'a', 'open after abort');
    expect($c->get("$q/close/open"), 'b', 'close/open');
    expect($c->get("$q/close"), false, 'close');
    expect($c->get($q), false, 'queue after close');
});

check('binary', function ($q) use ($c, $BINARY) {
    $c->set($q, $BINARY);
    expect($c->get($q), $BINARY, 'binary item');
});

check('large', function ($q) use ($c, $LARGE) {
    expect($c->set($q, $LARGE), true, 'set of 1 MiB');
    expect($c->get($q), $LARGE, '1 MiB item');
});

check('types', function ($q) use ($c) {
    $values = typed_values();
    foreach ($values as $value) $c->set($q, $value);
    $c->set($q, 'compressed on request ' . str_repeat('x', 100), MEMCACHE_COMPRESSED);
    $got = array_map(fn ($value) => $c->get($q), $values);
    expect($got, $values, 'typed and compressed values');
    expect($c->get($q), 'compressed on request ' . str_repeat('x', 100), 'MEMCACHE_COMPRESSED value');
});

check('gets', function ($q) use ($c) {
    $c->set($q, 'x');
    $flags = null;
    $cas = null;
    expect($c->get($q, $flags, $cas), 'x', 'gets value');
    if (empty($cas)) throw new Exception('no cas unique');
    return "cas $cas";
});

skip('noreply', 'the client has no noreply');

check('multiget', function ($q) use ($c) {
    $c->set($q, 'one');
    $c->set($q, 'two');
    expect($c->get([$q, $q]), [$q => 'one'], 'get of one queue twice');
    expect($c->get($q), 'two', 'the item after');
});

check('stats', function ($q) use ($c) {
    $c->set($q, 's');
    $stats = $c->getStats();
    expect($stats["queue_{$q}_items"] ?? null, '1', 'queue items stat');
    $version = $c->getVersion();
    expect($stats['version'], $version, 'stats version');
    if ((int) $version < 1) throw new Exception("version $version");
    return "version $version";
});
