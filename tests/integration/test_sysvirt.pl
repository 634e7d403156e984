#!/usr/bin/perl
# SPDX-License-Identifier: LGPL-2.1-or-later
# Perl Sys::Virt against an isolated virtbhyved: connect, list, define,
# undefine, errors; with a usable /dev/kvm also start, suspend, resume,
# destroy and lifecycle events through Sys::Virt::Event's default event
# loop (register_default/run_default). Starts its own daemon with --root
# in a temp dir.
use strict;
use warnings;
use Config;
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use Socket;
use Sys::Hostname;
use Test::More;
use Sys::Virt;
use Sys::Virt::Event;

# The default event loop must be registered before any connection opens.
Sys::Virt::Event::register_default();

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

# The daemon stays in our process group (meson's kill on a timeout reaches
# it) and gets SIGTERM when we die, however we die (PR_SET_PDEATHSIG).
my $parent = $$;
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>>', $log) or die;
    open(STDERR, '>&', \*STDOUT) or die;
    # prctl(PR_SET_PDEATHSIG = 1, SIGTERM): syscall 157 on x86_64
    syscall(157, 1, POSIX::SIGTERM(), 0, 0, 0) if $Config{archname} =~ /^x86_64/;
    POSIX::_exit(1) if getppid() != $parent;     # died before that
    exec($daemon, '--root', $root, @extra) or POSIX::_exit(127);
}

# Runners outlive their daemon by design: a test's die with it. Their
# command line ends with `-c <root>/run/libvirt/bhyve/NAME.conf`.
sub kill_runners {
    for my $dir (glob("/proc/[0-9]*")) {
        open(my $fh, '<', "$dir/cmdline") or next;
        local $/;
        my $cmd = <$fh> // '';
        my @argv = split /\0/, $cmd;
        next unless @argv >= 2 && $argv[-2] eq '-c' &&
            index($argv[-1], "$root/run/libvirt/bhyve/") == 0;
        kill 'KILL', (split m{/}, $dir)[-1];
    }
}

sub stop_daemon {
    my ($grace) = @_;
    kill 'TERM', $pid;
    my $end = time() + $grace;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time() >= $end) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            last;
        }
        select(undef, undef, undef, 0.02);
    }
    my $status = $?;
    $pid = 0;
    return $status;
}

# Never leave the daemon or a runner behind (a failed check dies, meson may
# kill us and SIGKILLs half a second later): the runners first, at once,
# then the daemon, never waiting for it unbounded, then the runners again
# (a start in progress when the daemon got SIGTERM completes first).
END {
    my $status = $?;
    kill_runners() if $root;
    if ($pid) {
        stop_daemon(2);
        kill_runners() if $root;
    }
    $? = $status;
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

# Running domains (the guest need not boot) and lifecycle events.
SKIP: {
    skip("no usable /dev/kvm", 1) unless -r "/dev/kvm" && -w "/dev/kvm";
    my $conn = Sys::Virt->new(uri => $uri);
    my $watcher = Sys::Virt->new(uri => "$uri-ro", readonly => 1);
    my (@any, @legacy, @filtered);
    my $cb_any = $watcher->domain_event_register_any(
        undef, Sys::Virt::Domain::EVENT_ID_LIFECYCLE,
        sub {
            my ($c, $dom, $event, $detail) = @_;
            push @any, join(" ", $dom->get_name(), $dom->get_id(), $event, $detail);
        });
    ok($cb_any >= 0, "domain_event_register_any (lifecycle, all domains)");
    $watcher->domain_event_register(sub {
        my ($c, $dom, $event, $detail) = @_;
        push @legacy, join(" ", $dom->get_name(), $event, $detail);
    });

    # one pass of the event loop at least every 100 ms
    my $tick = Sys::Virt::Event::add_timeout(100, sub { });
    my $run_until = sub {
        my ($cond, $secs) = @_;
        my $end = time() + $secs;
        Sys::Virt::Event::run_default() while !$cond->() && time() < $end;
        return $cond->();
    };

    my $dom = $conn->define_domain(domain_xml("perl-run", $uuids[9], 131072));
    my $filter = $watcher->get_domain_by_name("perl-run");
    my $cb_one = $watcher->domain_event_register_any(
        $filter, Sys::Virt::Domain::EVENT_ID_LIFECYCLE,
        sub { push @filtered, join(" ", $_[1]->get_name(), $_[2], $_[3]); });
    $conn->define_domain(domain_xml("perl-other", $uuids[8], 131072))->undefine();

    $dom->create();
    my $id = $dom->get_id();
    ok($dom->is_active(), "create: perl-run is active");
    ok($id > 0, "create: perl-run has an id");
    is(($dom->get_info())->{state}, Sys::Virt::Domain::STATE_RUNNING, "state running");
    my @running = map { $_->get_name() } $conn->list_domains();
    is_deeply(\@running, ["perl-run"], "list_domains lists the running domain");
    is($conn->get_domain_by_id($id)->get_name(), "perl-run", "lookup by id");
    $dom->suspend();
    is(($dom->get_info())->{state}, Sys::Virt::Domain::STATE_PAUSED, "suspend: paused");
    $dom->resume();
    is(($dom->get_info())->{state}, Sys::Virt::Domain::STATE_RUNNING, "resume: running");
    $dom->destroy();
    ok(!$dom->is_active(), "destroy: perl-run is inactive");
    is(($dom->get_info())->{state}, Sys::Virt::Domain::STATE_SHUTOFF, "state shut off");
    $dom->undefine();

    my @want = (
        "perl-run -1 " . Sys::Virt::Domain::EVENT_DEFINED . " " .
            Sys::Virt::Domain::EVENT_DEFINED_ADDED,
        "perl-other -1 " . Sys::Virt::Domain::EVENT_DEFINED . " " .
            Sys::Virt::Domain::EVENT_DEFINED_ADDED,
        "perl-other -1 " . Sys::Virt::Domain::EVENT_UNDEFINED . " " .
            Sys::Virt::Domain::EVENT_UNDEFINED_REMOVED,
        "perl-run $id " . Sys::Virt::Domain::EVENT_STARTED . " " .
            Sys::Virt::Domain::EVENT_STARTED_BOOTED,
        "perl-run $id " . Sys::Virt::Domain::EVENT_SUSPENDED . " " .
            Sys::Virt::Domain::EVENT_SUSPENDED_PAUSED,
        "perl-run $id " . Sys::Virt::Domain::EVENT_RESUMED . " " .
            Sys::Virt::Domain::EVENT_RESUMED_UNPAUSED,
        "perl-run -1 " . Sys::Virt::Domain::EVENT_STOPPED . " " .
            Sys::Virt::Domain::EVENT_STOPPED_DESTROYED,
        "perl-run -1 " . Sys::Virt::Domain::EVENT_UNDEFINED . " " .
            Sys::Virt::Domain::EVENT_UNDEFINED_REMOVED,
    );
    $run_until->(sub { @any >= @want && @legacy >= @want && @filtered >= 5 }, 20);
    # anything late would show up now
    my $settle = time() + 1;
    Sys::Virt::Event::run_default() while time() < $settle;
    is_deeply(\@any, \@want, "lifecycle events in order (register_any)")
        or diag(join("\n", @any));
    my @want_legacy = map { my @w = split / /; "$w[0] $w[2] $w[3]" } @want;
    is_deeply(\@legacy, \@want_legacy, "lifecycle events in order (domain_event_register)")
        or diag(join("\n", @legacy));
    my @want_one = grep { /^perl-run / } @want_legacy;
    shift @want_one;    # its Defined event came before the registration
    is_deeply(\@filtered, \@want_one, "events of one domain (register_any with a domain)")
        or diag(join("\n", @filtered));

    # After deregistration: a second connection, still registered, shows
    # that the daemon did emit the events and that the loop ran long enough
    # to deliver them; the first connection's callbacks get none. (Whether
    # the daemon still sends them to the first connection is not visible
    # through libvirt's client, which drops events nobody registered for;
    # this checks what a Sys::Virt program sees.)
    my $other = Sys::Virt->new(uri => "$uri-ro", readonly => 1);
    my @late;
    my $cb_late = $other->domain_event_register_any(
        undef, Sys::Virt::Domain::EVENT_ID_LIFECYCLE,
        sub { push @late, join(" ", $_[1]->get_name(), $_[2]); });
    $watcher->domain_event_deregister_any($cb_any);
    $watcher->domain_event_deregister_any($cb_one);
    $watcher->domain_event_deregister();
    @any = @legacy = @filtered = ();
    $conn->define_domain(domain_xml("perl-late", $uuids[7], 131072))->undefine();
    $run_until->(sub { @late >= 2 }, 20);
    $settle = time() + 1;
    Sys::Virt::Event::run_default() while time() < $settle;
    is_deeply(\@late, ["perl-late " . Sys::Virt::Domain::EVENT_DEFINED,
                       "perl-late " . Sys::Virt::Domain::EVENT_UNDEFINED],
              "a connection still registered gets the later events") or diag(join("\n", @late));
    is(scalar(@any) + scalar(@legacy) + scalar(@filtered), 0,
       "no callbacks on the connection that deregistered") or diag(join("\n", @any, @legacy));
    $other->domain_event_deregister_any($cb_late);
    Sys::Virt::Event::remove_timeout($tick);
}

{
    my $ro = Sys::Virt->new(uri => "$uri-ro", readonly => 1);
    is($ro->get_type(), "BHYVE", "read-only connection");
    eval { $ro->define_domain(domain_xml("perl-ro", $uuids[0])); };
    ok($@, "read-only connection cannot define") or diag("define succeeded");
}

my $daemon_status = stop_daemon(20);
is($daemon_status, 0, "daemon exited cleanly on SIGTERM") or diag(daemon_log());

if (!Test::More->builder->is_passing()) {
    diag("daemon log:\n" . daemon_log());
}
done_testing();
