<?php
// php-memcache (pecl memcache) against kestrel (test/clients/run.ts), at its defaults: text
// protocol, compression above 20000 bytes, PHP serializer, connect(..., 1): a 1 s timeout,
// longer than any t= used here. get() returns false for a miss (and for a stored false); it has
// no noreply.
require __DIR__ . '/queue_checks.php';

version(phpversion('memcache'));

$c = new Memcache();
if (!$c->connect($HOST, $PORT, 1)) throw new Exception("cannot connect to $HOST:$PORT");

queue_checks(
    fn ($key) => ($value = $c->get($key)) === false ? null : $value,
    fn ($key, $value) => $c->set($key, $value),
    fn ($keys) => $c->get($keys),
);

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

check('stats', function ($q) use ($c) {
    $c->set($q, 's');
    $stats = $c->getStats();
    expect($stats["queue_{$q}_items"] ?? null, '1', 'queue items stat');
    $version = $c->getVersion();
    expect($stats['version'], $version, 'stats version');
    if ((int) $version < 1) throw new Exception("version $version");
    return "version $version";
});
