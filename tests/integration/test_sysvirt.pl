#!/usr/bin/perl
# SPDX-License-Identifier: LGPL-2.1-or-later
# Perl Sys::Virt against an isolated virtbhyved: connect, list, define,
# undefine, errors. Starts its own daemon with --root in a temp dir.
use strict;
use warnings;
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use Socket;
use Sys::Hostname;
use Test::More;
use Sys::Virt;

my $daemon = $ENV{HYVE_DAEMON} or BAIL_OUT("HYVE_DAEMON is not set");
-x $daemon or BAIL_OUT("daemon $daemon is not executable");

my $root = tempdir("hyve-it-perl-XXXXXX", TMPDIR => 1, CLEANUP => !$ENV{HYVE_KEEP_TMP});
chmod 0755, $root;
my $log = "$root/daemon.log";

# Not root: still the system layout (both sockets), without polkit.
my @extra;
if ($> != 0) {
    open(my $c, '>', "$root/nonroot.conf") or die;
    print $c qq{auth_unix_rw = "none"\nauth_unix_ro = "none"\n};
    close($c);
    @extra = ('--system', '--config', "$root/nonroot.conf");
}

my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>>', $log) or die;
    open(STDERR, '>&', \*STDOUT) or die;
    POSIX::setsid();
    exec($daemon, '--root', $root, @extra) or die "exec $daemon: $!";
}

# Never leave the daemon behind (a failed check dies, meson may kill us).
END {
    if ($pid) {
        my $status = $?;
        kill 'TERM', $pid;
        waitpid($pid, 0);
        $? = $status;
    }
}
$SIG{TERM} = $SIG{INT} = sub { exit 1; };

sub daemon_log {
    open(my $fh, '<', $log) or return "(no log)";
    local $/;
    return <$fh>;
}

sub can_connect {
    my ($path) = @_;
    socket(my $s, PF_UNIX, SOCK_STREAM, 0) or return 0;
    my $ok = connect($s, pack_sockaddr_un($path));
    close($s);
    return $ok;
}

my $sock;
for (1 .. 600) {
    my $p = "$root/run/libvirt/virtbhyved-sock";
    $sock = $p if -S $p && can_connect($p);
    last if $sock;
    if (waitpid($pid, WNOHANG) == $pid) {
        diag(daemon_log());
        BAIL_OUT("daemon exited early with status $?");
    }
    select(undef, undef, undef, 0.05);
}
unless ($sock) {
    kill 'TERM', $pid;
    diag(daemon_log());
    BAIL_OUT("daemon socket did not appear below $root");
}
my $uri = "bhyve+unix:///system?socket=$sock";

my ($kernel) = reverse sort glob("/boot/vmlinuz-*");
$kernel //= "/boot/vmlinuz";

sub domain_xml {
    my ($name, $uuid, $mem) = @_;
    $mem //= 262144;
    return <<"EOF";
<domain type='bhyve'>
  <name>$name</name>
  <uuid>$uuid</uuid>
  <memory unit='KiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$kernel</kernel>
  </os>
</domain>
EOF
}

my @uuids = map { sprintf("5a0f00d0-0000-4000-8000-%012d", $_) } (1 .. 10);

{
    my $conn = Sys::Virt->new(uri => $uri);
    ok($conn, "connected to $uri");
    is($conn->get_type(), "BHYVE", "get_type");
    is($conn->get_hostname(), hostname(), "get_hostname");
    ok($conn->get_version() > 0, "get_version is positive");
    my @info = $conn->get_node_info();
    is($info[0]->{model}, "x86_64", "node info model");

    my @before = $conn->list_all_domains();
    is(scalar(@before), 0, "fresh daemon has no domains");

    for my $i (0 .. 9) {
        my $dom = $conn->define_domain(domain_xml("perl-$i", $uuids[$i]));
        is($dom->get_name(), "perl-$i", "define perl-$i");
        is($dom->get_uuid_string(), $uuids[$i], "uuid of perl-$i");
    }
    my @all = sort map { $_->get_name() } $conn->list_all_domains();
    is_deeply(\@all, [map { "perl-$_" } (0 .. 9)], "list_all_domains lists the 10");
    is($conn->num_of_defined_domains(), 10, "num_of_defined_domains");
    is_deeply([sort $conn->list_defined_domain_names(100)], \@all, "list_defined_domain_names");

    my $dom = $conn->get_domain_by_name("perl-4");
    is($dom->get_uuid_string(), $uuids[4], "lookup by name");
    is($conn->get_domain_by_uuid($uuids[7])->get_name(), "perl-7", "lookup by uuid");
    ok(!$dom->is_active(), "perl-4 is inactive");
    ok($dom->is_persistent(), "perl-4 is persistent");
    my $xml = $dom->get_xml_description();
    like($xml, qr{<name>perl-4</name>}, "xml has the name");
    like($xml, qr{<uuid>$uuids[4]</uuid>}, "xml has the uuid");

    $dom->set_autostart(1);
    ok($dom->get_autostart(), "autostart set");

    # errors
    eval { $conn->define_domain("<domain type='bhyve'><name>broken"); };
    ok($@ && $@->code == Sys::Virt::Error::ERR_XML_ERROR, "malformed XML gives XML_ERROR")
        or diag("got: $@");
    eval { $conn->get_domain_by_name("perl-none"); };
    ok($@ && $@->code == Sys::Virt::Error::ERR_NO_DOMAIN, "unknown name gives NO_DOMAIN")
        or diag("got: $@");

    for my $i (0 .. 9) {
        $conn->get_domain_by_name("perl-$i")->undefine();
    }
    my @left = $conn->list_all_domains();
    is(scalar(@left), 0, "all undefined");
    eval { $conn->get_domain_by_name("perl-4"); };
    ok($@ && $@->code == Sys::Virt::Error::ERR_NO_DOMAIN, "undefined domain is gone");
}

{
    my $ro = Sys::Virt->new(uri => "$uri-ro", readonly => 1);
    is($ro->get_type(), "BHYVE", "read-only connection");
    eval { $ro->define_domain(domain_xml("perl-ro", $uuids[0])); };
    ok($@, "read-only connection cannot define") or diag("define succeeded");
}

kill 'TERM', $pid;
waitpid($pid, 0);
my $daemon_status = $?;
$pid = 0;
is($daemon_status >> 8, 0, "daemon exited cleanly on SIGTERM") or diag(daemon_log());

if (!Test::More->builder->is_passing()) {
    diag("daemon log:\n" . daemon_log());
}
done_testing();
