#!/usr/bin/perl
# Cache::Memcached or Cache::Memcached::Fast (the first argument) against kestrel
# (test/clients/run.ts), with compress_threshold set so compressed values are tried too. Both
# read with a 1 s timeout (select_timeout, io_timeout), longer than any t= used here. Only ::Fast
# has gets and noreply (a server option: commands in void context send noreply); only
# Cache::Memcached has stats (::Fast has server_versions).
use strict;
use warnings;
use Time::HiRes qw(time);

my ($module, $host, $port) = @ARGV;
eval "require $module" or die $@;
my $fast = $module eq 'Cache::Memcached::Fast';

# Bytes a text-protocol client must carry untouched: CR LF, NUL, an "END" line, every byte value.
my $BINARY = "line\r\nEND\r\n\0\r\n" . join('', map { chr } 0 .. 255) . "\r\n";
# 1 MiB, not compressible (so clients that compress still send the full size).
my $LARGE = join('', map { chr(int(rand(256))) } 1 .. (1 << 20));

print "version ", $module->VERSION, "\n";

sub client {
    my %server_options = @_;
    return $module->new({ servers => [{ address => "$host:$port", %server_options }], compress_threshold => 1000 }) if $fast;
    return $module->new({ servers => ["$host:$port"], compress_threshold => 1000 });
}

my $c = client();

sub shown {
    my ($value) = @_;
    my $text = !defined $value ? 'undef'
        : ref $value eq 'HASH' ? '{' . join(', ', map { "$_ => " . shown($value->{$_}) } sort keys %$value) . '}'
        : ref $value ? 'a ' . ref($value) : "'$value'";
    $text =~ s/([^ -~])/sprintf('\\x%02x', ord $1)/ge;
    return length $text > 80 ? substr($text, 0, 77) . '...' : $text;
}

# get in scalar context: in list context a miss could be an empty list.
sub get { my ($client, $key) = @_; return scalar $client->get($key) }

# The same data: the same kinds of reference all the way down, and scalars that are eq (Perl
# keeps no type that tells 2.5 from "2.5").
sub same {
    my ($got, $wanted) = @_;
    return !defined $got if !defined $wanted;
    return 0 if !defined $got || ref $got ne ref $wanted;
    return $got eq $wanted if !ref $wanted;
    return same($$got, $$wanted) if ref $wanted eq 'SCALAR' || ref $wanted eq 'REF';
    if (ref $wanted eq 'ARRAY') {
        return 0 if @$got != @$wanted;
        return !grep { !same($got->[$_], $wanted->[$_]) } 0 .. $#$wanted;
    }
    return 0 if join("\0", sort keys %$got) ne join("\0", sort keys %$wanted);
    return !grep { !same($got->{$_}, $wanted->{$_}) } keys %$wanted;
}

sub expect {
    my ($got, $wanted, $what) = @_;
    die "$what: got " . shown($got) . ", wanted " . shown($wanted) . "\n" unless same($got, $wanted);
}

# check(NAME, FN): FN dies to fail; it may return { detail => TEXT } to pass with a detail.
sub check {
    my ($name, $fn) = @_;
    my $result = eval { $fn->($name) };
    my $detail = ref $result eq 'HASH' ? $result->{detail} : '';
    if ($@) {
        (my $error = $@) =~ s/\n/ /g;
        print "fail $name $error\n";
    } else {
        print "pass $name $detail\n";
    }
}

sub skip { print "skip $_[0] $_[1]\n" }

check(order => sub {
    my ($q) = @_;
    expect($c->set($q, "item $_"), 1, 'set') for 1 .. 3;
    expect(get($c, $q), $_, 'item') for 'item 1', 'item 2', 'item 3', undef;
});

check(blocking => sub {
    my ($q) = @_;
    expect(get($c, "$q/t=500"), undef, 'get/t=500 on an empty queue');
    $c->set($q, 'ready');
    expect(get($c, "$q/t=500"), 'ready', 'get/t=500 with an item');
});

check(reliable => sub {
    my ($q) = @_;
    $c->set($q, $_) for 'a', 'b';
    expect(get($c, "$q/open"), 'a', 'open');
    expect(get($c, "$q/abort"), undef, 'abort');
    expect(get($c, "$q/open"), 'a', 'open after abort');
    expect(get($c, "$q/close/open"), 'b', 'close/open');
    expect(get($c, "$q/close"), undef, 'close');
    expect(get($c, $q), undef, 'queue after close');
});

check(binary => sub {
    my ($q) = @_;
    $c->set($q, $BINARY);
    expect(get($c, $q), $BINARY, 'binary item');
});

check(large => sub {
    my ($q) = @_;
    expect($c->set($q, $LARGE), 1, 'set of 1 MiB');
    expect(get($c, $q), $LARGE, '1 MiB item');
});

check(types => sub {
    my ($q) = @_;
    my @values = ({ list => [1, 2.5, undef] }, [1, 'two'], \'scalar ref', 'compressible ' x 1000, 42);
    $c->set($q, $_) for @values;
    expect(get($c, $q), $_, 'typed or compressed value') for @values;
});

if ($fast) {
    check(gets => sub {
        my ($q) = @_;
        $c->set($q, 'x');
        my $item = $c->gets($q) or die "gets returned undef\n";
        expect($item->[1], 'x', 'gets value');
        die "no cas unique\n" unless $item->[0];
        return { detail => "cas $item->[0]" };
    });
    check(noreply => sub {
        my ($q) = @_;
        my $quiet = client(noreply => 1);
        $quiet->set($q, $_) for 'n1', 'n2';    # void context: sent with noreply
        expect(get($quiet, $q), $_, 'item set with noreply') for 'n1', 'n2', undef;
    });
} else {
    skip(gets => 'the client has no gets');
    skip(noreply => 'the client has no noreply');
}

check(multiget => sub {
    my ($q) = @_;
    $c->set($q, $_) for 'one', 'two';
    my $got = $c->get_multi($q, $q);
    expect($got, { $q => 'one' }, 'get_multi of one queue twice');
    expect(get($c, $q), 'two', 'the item after');
});

check(stats => sub {
    my ($q) = @_;
    $c->set($q, 's');
    my $version;
    if ($fast) {
        ($version) = values %{ $c->server_versions };
    } else {
        my $stats = $c->stats(['misc'])->{hosts}{"$host:$port"}{misc};
        expect($stats->{"queue_${q}_items"}, 1, 'queue items stat');
        $version = $stats->{version};
    }
    die 'version ' . shown($version) . "\n" unless defined $version && $version =~ /^[1-9]/;
    return { detail => "version $version" };
});
