<?php
// The checks both PHP clients do alike: queue order, blocking gets, reliable reads, a binary and
// a 1 MiB item, and a multi-key get naming one queue twice. $get(key) returns the value or null
// for a miss, $set(key, value) returns true, $get_multi(keys) returns [key => value]. Neither
// client makes a second connection easy, so the blocking check waits on an empty queue and then
// on one with an item.
require_once __DIR__ . '/report.php';

function queue_checks(callable $get, callable $set, callable $get_multi): void {
    global $BINARY, $LARGE;

    check('order', function ($q) use ($get, $set) {
        foreach ([1, 2, 3] as $n) expect($set($q, "item $n"), true, 'set');
        expect([$get($q), $get($q), $get($q), $get($q)], ['item 1', 'item 2', 'item 3', null], 'items');
    });

    check('blocking', function ($q) use ($get, $set) {
        expect($get("$q/t=500"), null, 'get/t=500 on an empty queue');
        $set($q, 'ready');
        expect($get("$q/t=500"), 'ready', 'get/t=500 with an item');
    });

    check('reliable', function ($q) use ($get, $set) {
        $set($q, 'a');
        $set($q, 'b');
        expect($get("$q/open"), 'a', 'open');
        expect($get("$q/abort"), null, 'abort');
        expect($get("$q/open"), 'a', 'open after abort');
        expect($get("$q/close/open"), 'b', 'close/open');
        expect($get("$q/close"), null, 'close');
        expect($get($q), null, 'queue after close');
    });

    check('binary', function ($q) use ($get, $set, $BINARY) {
        $set($q, $BINARY);
        expect($get($q), $BINARY, 'binary item');
    });

    check('large', function ($q) use ($get, $set, $LARGE) {
        expect($set($q, $LARGE), true, 'set of 1 MiB');
        expect($get($q), $LARGE, '1 MiB item');
    });

    check('multiget', function ($q) use ($get, $set, $get_multi) {
        $set($q, 'one');
        $set($q, 'two');
        expect($get_multi([$q, $q]), [$q => 'one'], 'multi-key get of one queue twice');
        expect($get($q), 'two', 'the item after');
    });
}
