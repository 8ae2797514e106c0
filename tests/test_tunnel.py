"""
Remote monitoring through SSH: ``--ssh``, the supervised
:class:`~piw_monitor.tunnel.Tunnel`, and an external tunnel's restarts.

The tests that need a network run a real OpenSSH server of their own on
127.0.0.1 (a free high port; a throwaway host key, user key, sshd_config,
ssh_config and known_hosts in a temporary directory; nothing outside it is
touched, and ~/.ssh is not read) with the demo master on the "remote" side,
on sockets in the same directory. The client is the system's ``ssh`` run
with ``-F`` that generated configuration: in-process through the tunnel's
*ssh* argument, and for the program itself through a wrapper named ``ssh``
put first on its PATH.

sshd as root insists on its privilege separation directory (/run/sshd);
where it is missing, sshd runs in a private mount namespace (``unshare``)
that has one, so that the real /run is left alone. Without OpenSSH (or, as
root, without either) these tests are skipped, saying why; ``.ci/run``
installs Debian's openssh-server and openssh-client.
"""

import os
import pwd
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from piw_monitor import protocol as p
from piw_monitor.demo import DemoMaster
from piw_monitor.link import MasterLink
from piw_monitor.protocol import NotSent
from piw_monitor.tunnel import Tunnel, TunnelError, parse_destination, \
    remote_target

from .helpers import wait_for
from .terminal import Terminal

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(90)

SSHD = shutil.which("sshd") or (
    "/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)
SSH = shutil.which("ssh")
KEYGEN = shutil.which("ssh-keygen")
UNSHARE = shutil.which("unshare")


def _missing():
    """Why the tests against a real sshd cannot run here, or None."""
    if SSHD is None:
        return "no OpenSSH server (sshd); .ci/run installs openssh-server"
    if SSH is None or KEYGEN is None:
        return "no OpenSSH client (ssh, ssh-keygen); .ci/run installs it"
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        if UNSHARE is None:
            return ("sshd as root needs /run/sshd, which is missing, and "
                    "unshare (for a private one) is not installed")
        probe = subprocess.run(
            [UNSHARE, "--mount", "--propagation", "private", "true"],
            capture_output=True)
        if probe.returncode:
            return ("sshd as root needs /run/sshd, which is missing, and a "
                    "private mount namespace is not permitted here")
    return None


needs_sshd = pytest.mark.skipif(
    _missing() is not None, reason=str(_missing()))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid):
    """The process ids below *pid* (read from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


class SSHServer:
    """A throwaway OpenSSH server on 127.0.0.1 and a client set up for it."""

    def __init__(self, base):
        self.base = base
        self.port = _free_port()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.proc = None
        for name in ("host_key", "user_key", "other_key"):
            subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C",
                            name, "-f", str(base / name)], check=True)
        (base / "authorized_keys").write_text(
            (base / "user_key.pub").read_text())
        (base / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\n"
            f"HostKey {base}/host_key\nPidFile {base}/sshd.pid\n"
            f"AuthorizedKeysFile {base}/authorized_keys\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nAllowStreamLocalForwarding yes\n"
            "AllowTcpForwarding yes\nPermitRootLogin prohibit-password\n"
            "LogLevel VERBOSE\n")
        host_key = (base / "host_key.pub").read_text().split()
        (base / "known_hosts").write_text(
            f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n")
        self.config = base / "ssh_config"
        self.config.write_text(self._client_config("user_key"))
        (base / "ssh_config_other").write_text(
            self._client_config("other_key"))
        # the program finds these as "ssh" first on its PATH
        for folder, config in (("bin", "ssh_config"),
                               ("bin-other", "ssh_config_other")):
            (base / folder).mkdir()
            wrapper = base / folder / "ssh"
            wrapper.write_text(
                f'#!/bin/sh\nexec {SSH} -F {base / config} "$@"\n')
            wrapper.chmod(0o755)

    def _client_config(self, key):
        return (f"Host *\n  Port {self.port}\n  User {self.user}\n"
                f"  UserKnownHostsFile {self.base}/known_hosts\n"
                "  GlobalKnownHostsFile /dev/null\n"
                "  StrictHostKeyChecking yes\n  CheckHostIP no\n"
                f"  IdentityFile {self.base}/{key}\n  IdentitiesOnly yes\n"
                "  IdentityAgent none\n  LogLevel ERROR\n")

    @property
    def destination(self):
        return f"{self.user}@127.0.0.1"

    def ssh(self, other_key=False):
        """The client command for :class:`Tunnel` (``ssh -F config``)."""
        config = self.base / ("ssh_config_other" if other_key
                              else "ssh_config")
        return (SSH, "-F", str(config))

    def env(self, other_key=False):
        """The environment that makes the program use the test's client."""
        folder = self.base / ("bin-other" if other_key else "bin")
        return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}

    def start(self):
        cmd = [SSHD, "-D", "-e", "-f", str(self.base / "sshd_config")]
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            cmd = [UNSHARE, "--mount", "--propagation", "private", "sh", "-c",
                   "mount -t tmpfs -o mode=755 tmpfs /run && "
                   'mkdir -m 755 /run/sshd && exec "$@"', "sh", *cmd]
        log = open(self.base / "sshd.log", "ab")
        with log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)

        def listening():
            assert self.proc.poll() is None, self.log()
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
            except OSError:
                return False
            return True
        wait_for(listening, 20, 0.02, "sshd did not start")

    def stop(self):
        """Kill sshd and every session it started, as a crash would."""
        if self.proc is None:
            return
        for pid in [*_descendants(self.proc.pid), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait(10)
        self.proc = None

    def log(self):
        return (self.base / "sshd.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A running throwaway sshd (and a client set up for it)."""
    server = SSHServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    probe = subprocess.run(
        [*server.ssh(), "-o", "BatchMode=yes", "127.0.0.1", "true"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if probe.returncode:
        server.stop()
        pytest.skip("cannot log in to a throwaway sshd here: "
                    + (probe.stderr.decode(errors="replace").strip()
                       + " / " + server.log().strip().splitlines()[-1]))
    yield server
    server.stop()


@pytest.fixture
def remote(tmp_path):
    """The demo master's sockets on the "remote" side: (status, control)."""
    folder = tmp_path / "remote"
    folder.mkdir()
    return f"ipc://{folder}/status", f"ipc://{folder}/control"


@pytest.fixture
def demo(remote):
    master = DemoMaster(*remote, slaves=3, seed=1, speed=4)
    master.start()
    yield master
    master.stop()


class Pump:
    """Drives a link as the console does, and keeps every event."""

    def __init__(self, link):
        self.link = link
        self.events = []
        self._next_tick = 0.0

    def until(self, condition, timeout=20.0, what="a condition"):
        deadline = time.monotonic() + timeout
        while True:
            found = condition(self.events)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; last events: "
                    f"{[type(e).__name__ for e in self.events[-12:]]}")
            if not self.link.pending:
                select.select(self.link.fds(), [], [], 0.05)
            if time.monotonic() >= self._next_tick:
                # the console's tick is 1 s; faster here, for a quick test
                self.link.tick(self.link._clock())
                self._next_tick = time.monotonic() + 0.1
            self.events += self.link.drain()

    def after(self, mark, kind, test=lambda e: True):
        """A condition: an event of *kind* since index *mark*."""
        return lambda events: next(
            (e for e in events[mark:] if type(e) is kind and test(e)), None)


# ------------------------------------------------------------ no server

def test_destination_parsing():
    assert parse_destination("master") == (None, "master", None)
    assert parse_destination("pi@master.example:2222") == (
        "pi", "master.example", 2222)
    assert parse_destination("[::1]:22") == (None, "::1", 22)
    assert parse_destination("me@[fe80::1%eth0]") == ("me", "fe80::1%eth0",
                                                      None)
    for bad, why in [("", "empty"), ("-oProxyCommand=x", "'-'"),
                     ("a b", "white space"), ("@host", "no user"),
                     ("host:0", "between 1 and 65535"), ("::1", "brackets"),
                     ("host:ssh", "not a number"), ("[::1", "closing"),
                     ("-l@host", "'-'")]:
        with pytest.raises(ValueError, match=why):
            parse_destination(bad)


def test_remote_targets():
    assert remote_target("ipc:///tmp/piw-status") == "/tmp/piw-status"
    assert remote_target("tcp://localhost:5555") == "localhost:5555"
    assert remote_target("tcp://[::1]:5555") == "[::1]:5555"
    with pytest.raises(ValueError, match="abstract"):
        remote_target("ipc://@piw-status")
    with pytest.raises(ValueError, match="':'"):
        remote_target("ipc:///tmp/a:b")


def test_command_forwards_both_or_only_status():
    both = Tunnel("pi@master:2200", "ipc:///tmp/piw-status",
                  "tcp://localhost:5556")
    both._locals = ["/x/status", "/x/control"]
    cmd = both.command()
    assert cmd[:3] == ["ssh", "-N", "-T"]
    assert "BatchMode=yes" in cmd and "ExitOnForwardFailure=yes" in cmd
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "-L"] == [
        "/x/status:/tmp/piw-status", "/x/control:localhost:5556"]
    assert cmd[-2:] == ["--", "master"]
    assert ["-p", "2200"] == cmd[cmd.index("-p"):cmd.index("-p") + 2]
    assert ["-l", "pi"] == cmd[cmd.index("-l"):cmd.index("-l") + 2]
    # --read-only: the control socket is not forwarded at all
    watch = Tunnel("master", "ipc:///tmp/piw-status", None)
    watch._locals = ["/x/status"]
    assert [a for a in watch.command() if a.startswith("/x/")] == [
        "/x/status:/tmp/piw-status"]


def test_missing_ssh_is_a_clear_error():
    tunnel = Tunnel("master", "ipc:///tmp/piw-status", None,
                    ssh=("/nonexistent/ssh",))
    with pytest.raises(TunnelError, match="cannot run /nonexistent/ssh"):
        tunnel.start()
    assert tunnel.directory is None


def test_exit_reason_backoff_and_cleanup():
    """ssh's last line is the reason; the delay grows; close cleans up."""
    fake = (sys.executable, "-c",
            "import sys; sys.stderr.write('debug1: x\\r\\n"
            "pi@master: Permission denied (publickey).\\r\\n'); sys.exit(255)")
    now = [0.0]
    tunnel = Tunnel("pi@master", "ipc:///tmp/piw-status",
                    "ipc:///tmp/piw-control", ssh=fake, clock=lambda: now[0])
    tunnel.start()
    folder = tunnel.directory
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert tunnel.status_queue == f"ipc://{folder}/status"
    try:
        delays = []
        for _ in range(4):
            down = wait_for(lambda: [e for e in tunnel.poll()
                                     if type(e) is p.TunnelDown], 15)[0]
            assert down.reason == "pi@master: Permission denied (publickey)."
            assert down.fatal and "ssh-agent" in down.advice
            assert not tunnel.alive
            delays.append(down.retry_in)
            assert tunnel.poll() == []        # not yet time to try again
            now[0] += down.retry_in
            assert tunnel.poll() == [] and tunnel.alive   # started again
        assert delays == [1.0, 2.0, 4.0, 8.0]
    finally:
        tunnel.close()
    assert not os.path.exists(folder) and tunnel.pid is None


# ------------------------------------------------------------ real sshd

@needs_sshd
def test_tunnel_rides_out_ssh_and_sshd_restarts(sshd, remote, demo):
    tunnel = Tunnel(sshd.destination, *remote, ssh=sshd.ssh(),
                    retry_first=0.2, retry_max=0.5)
    tunnel.start()
    folder = tunnel.directory
    link = MasterLink(tunnel.status_queue, tunnel.control_queue,
                      tunnel=tunnel)
    link.open()
    pump = Pump(link)
    try:
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        pump.until(pump.after(0, p.TunnelUp), what="the tunnel")
        pump.until(pump.after(0, p.MasterHello), what="the replay")
        assert link.address.endswith(f"via ssh {sshd.destination}")

        # the ssh client dies: said so, nothing sent meanwhile, back again
        mark = len(pump.events)
        os.kill(tunnel.pid, signal.SIGKILL)
        down = pump.until(pump.after(mark, p.TunnelDown), what="TunnelDown")
        assert "SIGKILL" in down.reason
        assert any(type(e) is p.LinkDown for e in pump.events[mark:])
        assert not tunnel.alive   # until the next poll after its delay
        with pytest.raises(NotSent, match="tunnel is down"):
            link.send("SLEEP", None)
        pump.until(pump.after(mark, p.LinkUp), what="LinkUp after ssh")
        pump.until(pump.after(mark, p.MasterHello), what="a new replay")

        # sshd and its sessions die (a reboot), and come back later
        mark = len(pump.events)
        sshd.stop()
        down = pump.until(pump.after(mark, p.TunnelDown), what="ssh exits")
        assert down.reason  # ssh's own words, e.g. "Connection ... closed"
        refused = pump.until(pump.after(
            mark, p.TunnelDown, lambda e: "refused" in e.reason.lower()),
            what="a retry refused while sshd is down")
        assert "no SSH server answers" in refused.advice
        sshd.start()
        pump.until(pump.after(mark, p.MasterHello), what="replay after sshd")
        assert link.connected
        link.send("SLEEP", None)   # the tunnel is up: commands go through
        pump.until(pump.after(mark, p.CommandSent), what="SLEEP sent")
    finally:
        link.close()
        pid = tunnel.pid
        tunnel.close()
        if sshd.proc is None:
            sshd.start()
    assert not os.path.exists(folder)
    assert pid is None or not _alive(pid)


@needs_sshd
def test_external_tunnel_restarts_and_unreachable_master(
        sshd, tmp_path, remote):
    """
    Without --ssh: the socket files of an external tunnel are removed and
    replaced by a new listener; 0MQ reconnects by itself and the link asks
    for the replay again. With the tunnel up and no master behind it, the
    link says the master is unreachable through it.
    """
    local = tmp_path / "local"
    local.mkdir(mode=0o700)
    pairs = [(f"{local}/status", remote[0][6:]),
             (f"{local}/control", remote[1][6:])]

    def external_tunnel():
        forwards = [a for pair in pairs for a in ("-L", ":".join(pair))]
        return subprocess.Popen(
            [*sshd.ssh(), "-NT", "-o", "BatchMode=yes", "-o",
             "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes",
             *forwards, "127.0.0.1"], stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

    master = DemoMaster(*remote, slaves=2, seed=2, speed=4)
    master.start()
    ssh = external_tunnel()
    link = MasterLink(f"ipc://{pairs[0][0]}", f"ipc://{pairs[1][0]}")
    link.open()
    pump = Pump(link)
    try:
        pump.until(pump.after(0, p.MasterHello), what="the first replay")
        for _ in range(2):
            mark = len(pump.events)
            ssh.kill()
            ssh.wait()
            for path, _ in pairs:   # as systemd's restart would find them
                os.unlink(path)
            pump.until(pump.after(mark, p.LinkDown), what="LinkDown")
            ssh = external_tunnel()
            pump.until(pump.after(mark, p.LinkUp), what="LinkUp")
            pump.until(pump.after(mark, p.MasterHello), what="a new replay")
        mark = len(pump.events)
        master.stop()
        master = None
        gone = pump.until(pump.after(mark, p.Unreachable), what="unreachable")
        assert "closes them before any master answers" in gone.reason
        assert not link.connected
    finally:
        link.close()
        ssh.kill()
        ssh.wait()
        if master is not None:
            master.stop()


def _run(args, env, timeout=30):
    environ = dict(os.environ, **env)
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "piw_monitor", *args], env=environ,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout)


@needs_sshd
def test_check_and_refused_key(sshd, remote, demo):
    queues = ["--status-queue", remote[0], "--control-queue", remote[1]]
    good = _run(["--check", "--ssh", sshd.destination, *queues], sshd.env())
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith("OK - piwheels demo-master running")
    start = time.monotonic()
    bad = _run(["--check", "--ssh", sshd.destination, *queues],
               sshd.env(other_key=True))
    assert bad.returncode == 3, bad.stdout + bad.stderr
    assert bad.stdout.startswith("UNKNOWN - piwheels master not reachable: "
                                 "ssh could not log in to 127.0.0.1")
    assert "Permission denied (publickey)" in bad.stdout
    assert "ssh-agent" in bad.stdout
    # it gives up at once: waiting would not help
    assert time.monotonic() - start < 8
    tmp = Path(tempfile.gettempdir())
    leftovers = [n for n in tmp.glob("piw-monitor-ssh-*")
                 if n.stat().st_uid == os.getuid()
                 and time.time() - n.stat().st_mtime < 60]
    assert leftovers == []


def _ssh_children(pid):
    found = []
    for child in _descendants(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"ssh" and b"-N" in argv:
            found.append((child, [a.decode() for a in argv]))
    return found


@needs_sshd
def test_console_through_ssh(sshd, remote, demo):
    """The console attaches, says why the tunnel dropped, comes back, and
    leaves neither ssh nor its directory behind after a hang-up."""
    term = Terminal(["--ssh", sshd.destination, "--status-queue", remote[0],
                     "--control-queue", remote[1]], env=sshd.env(),
                    cols=200)
    try:
        term.wait_for("Connected to the master at", 20)
        assert f"via ssh {sshd.destination}" in term.text
        [(pid, argv)] = _ssh_children(term.child.pid)
        assert "BatchMode=yes" in argv
        folder = os.path.dirname(argv[argv.index("-L") + 1].split(":")[0])
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        os.kill(pid, signal.SIGKILL)
        term.wait_for("down: ssh was killed by SIGKILL", 10)
        assert "trying again in 1 s" in term.text
        term.wait_for("is back", 20)
        [(pid, _)] = _ssh_children(term.child.pid)
        term.child.kill(signal.SIGHUP)
        assert term.wait_exit() == 128 + signal.SIGHUP
        assert not term.restored()
        wait_for(lambda: not _alive(pid), 5, message="ssh outlived it")
        assert not os.path.exists(folder)
    finally:
        term.close()
