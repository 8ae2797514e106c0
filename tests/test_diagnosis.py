"""
Why the monitor cannot reach its master: each cause made for real (files,
directories and sockets in a temporary directory; TCP on 127.0.0.1 and ::1,
on free ports) and named by a real :class:`MasterLink`, driven as the UI
drives it. The permission cases run the link as the unprivileged user
``nobody`` (in a forked child, as the tests run as root in CI); the host
name that does not resolve is looked up in a network namespace of its own,
where no query can leave the machine. Only the causes that cannot be made
on loopback (a host name with IPv6 addresses only, a host that never
answers) are checked on the probe alone, with the resolver or the socket
stood in for.
"""

import datetime as dt
import io
import json
import os
import pwd
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import zmq

from piw_monitor import app
from piw_monitor import link as link_module
from piw_monitor import protocol as p
from piw_monitor.link import LinkError, MasterLink, probe

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[1]


def now():
    return dt.datetime.now(dt.timezone.utc)


def drive(link, until, timeout=30.0):
    """
    Run *link* as the UI does (select on its descriptors, drain, tick every
    second) until *until(events)* is true; return the events.
    """
    events = []
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic() + 1
    while not until(events):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; events so far: {events}")
        if not link.pending:
            select.select(link.fds(), [], [], 0.1)
        events.extend(link.drain())
        if time.monotonic() >= next_tick:
            link.tick(now())
            next_tick = time.monotonic() + 1
    return events


def problem(events):
    """The latest LinkProblem naming a cause, or None."""
    found = [e for e in events if isinstance(e, p.LinkProblem) and e.cause]
    return found[-1] if found else None


def diagnose(status, control, read_only=False, timeout=30.0):
    """The first cause a fresh link names for these addresses."""
    with MasterLink(status, control, read_only=read_only) as link:
        return problem(drive(link, problem, timeout))


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def bind_master(ctx, status, control, ipv6=False):
    """A master's two queues, bound: (PUB, PULL)."""
    pub, pull = ctx.socket(zmq.PUB), ctx.socket(zmq.PULL)
    for sock in (pub, pull):
        sock.linger = 0
        sock.ipv6 = ipv6
    pub.bind(status)
    pull.bind(control)
    return pub, pull


# ------------------------------------------------------------ ipc


def test_no_socket_file_on_either_queue(ipc_addrs):
    status, control = ipc_addrs
    found = diagnose(status, control)
    assert found.cause == "no-socket"
    assert found.queue == "status queue" and found.address == status
    assert found.describe() == (
        f"no socket file at {status}, and the same at the control queue "
        "(is the master running? is the path right?)")


def test_no_such_directory(tmp_path):
    status = f"ipc://{tmp_path}/run/piwheels/status"
    found = diagnose(status, f"ipc://{tmp_path}/run/piwheels/control")
    assert found.cause == "no-directory"
    # the first directory missing is the one named
    assert found.detail.startswith(f"no directory {tmp_path}/run for {status}")


def test_a_file_where_a_directory_should_be(tmp_path):
    (tmp_path / "run").write_text("")
    status = f"ipc://{tmp_path}/run/status"
    found = diagnose(status, f"ipc://{tmp_path}/run/control")
    assert found.cause == "not-directory"
    assert found.detail.startswith(
        f"{tmp_path}/run is not a directory, in {status}")


def test_a_file_of_another_kind_at_the_path(tmp_path):
    (tmp_path / "status").write_text("")
    os.mkfifo(tmp_path / "control")
    status, control = f"ipc://{tmp_path}/status", f"ipc://{tmp_path}/control"
    found = diagnose(status, control)
    assert found.cause == "not-socket"
    assert found.detail.startswith(
        f"{status} is not a socket but a regular file")
    assert "another file is in the way" in found.hint
    assert probe(control)[1] == f"{control} is not a socket but a named pipe"


def test_a_socket_file_left_over_with_nothing_listening(tmp_path):
    for name in ("status", "control"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(tmp_path / name))    # closed: nobody listens
    status = f"ipc://{tmp_path}/status"
    found = diagnose(status, f"ipc://{tmp_path}/control")
    assert found.cause == "stale-socket"
    assert found.detail.startswith(
        f"nothing listens on {status} (connection refused): its socket file "
        "is left over")


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="abstract sockets are Linux only")
def test_an_abstract_socket_nobody_listens_on(tmp_path):
    name = f"@piw-monitor-test-{os.getpid()}-{time.monotonic_ns()}"
    found = diagnose(f"ipc://{name}", f"ipc://{tmp_path}/control",
                     read_only=True)
    assert (found.cause, found.detail) == (
        "refused", f"nothing listens on ipc://{name} (connection refused)")


def test_a_unix_server_that_is_not_zmq(tmp_path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "status"))
    server.listen(16)
    stop = serve_banner(server)
    try:
        found = diagnose(f"ipc://{tmp_path}/status", "", read_only=True)
    finally:
        stop()
    assert found.cause == "not-zmq"
    assert found.detail == (
        f"ipc://{tmp_path}/status answers, but not as a 0MQ socket")


def test_ipc_path_too_long_is_refused_at_once(ctx, tmp_path):
    status = "ipc:///tmp/" + "x" * 120
    link = MasterLink(status, f"ipc://{tmp_path}/control", context=ctx)
    with pytest.raises(LinkError) as info:
        link.open()
    assert str(info.value) == (
        f'invalid status queue address "{status}": the path is longer than '
        "the 107 bytes a Unix socket allows")


# ------------------------------------------------------------ tcp


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_tcp_connection_refused(host):
    port = free_port(host.strip("[]"))
    status = f"tcp://{host}:{port}"
    found = diagnose(status, "", read_only=True)
    assert found.cause == "refused"
    assert found.describe() == (
        f"connection refused by {status}: nothing listens on port {port} "
        "(is the master running, and on this port?)")


def test_an_ipv6_literal_connects(ctx):
    status = f"tcp://[::1]:{free_port('::1')}"
    control = f"tcp://[::1]:{free_port('::1')}"
    pub, pull = bind_master(ctx, status, control, ipv6=True)
    with MasterLink(status, control) as link:
        events = drive(link, lambda events: link.connected)
        # the HELLO asking for the replay arrives
        assert pull.poll(10_000) and pull.recv() == p.hello()
    assert not problem(events)


def serve_banner(server, banner=b"SSH-2.0-OpenSSH_9.6\r\n"):
    """Answer every connection to *server* with *banner*; returns a stop."""
    done = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                try:
                    conn.sendall(banner)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop():
        done.set()
        thread.join(5)
        server.close()
    return stop


def test_a_tcp_server_that_is_not_zmq():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    status = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop = serve_banner(server)
    try:
        found = diagnose(status, "", read_only=True)
    finally:
        stop()
    assert found.cause == "not-zmq"
    assert found.hint == "not the master's address?"


def test_a_listener_that_never_answers():
    # accepted by the kernel, never spoken to: a hung master, or a server
    # that waits for its client to speak first
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    status = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        found = diagnose(status, "", read_only=True)
    finally:
        server.close()
    assert found.cause == "no-handshake"
    assert found.describe() == (
        f"{status} accepts connections but never completes a 0MQ handshake "
        "(not the master's address, or a master that hangs?)")


def test_status_and_control_addresses_swapped(ctx, ipc_addrs):
    status, control = ipc_addrs
    # the master's, the other way round (kept: a socket collected closes)
    sockets = bind_master(ctx, control, status)
    found = diagnose(status, control)
    assert sockets and found.cause == "wrong-type"
    assert found.describe() == (
        f"{status} is a 0MQ socket of the wrong kind (the status queue needs "
        "the master's PUB), and the same at the control queue (the status "
        "and control queue addresses swapped?)")


def test_only_the_status_queue_answers(ctx, tmp_path):
    status, control = f"ipc://{tmp_path}/status", f"ipc://{tmp_path}/c/control"
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    pub.bind(status)
    found = diagnose(status, control)
    assert (found.cause, found.queue, found.address) == (
        "no-directory", "control queue", control)
    assert found.detail == (
        "the status queue answers, the control queue does not: no directory "
        f"{tmp_path}/c for {control}")


def test_only_the_control_queue_answers(ctx, tmp_path):
    status, control = f"ipc://{tmp_path}/status", f"ipc://{tmp_path}/control"
    pull = ctx.socket(zmq.PULL)
    pull.linger = 0
    pull.bind(control)
    found = diagnose(status, control)
    assert found.detail == (
        "the control queue answers, the status queue does not: no socket "
        f"file at {status}")


# ------------------------------------------------------------ the probe alone


def test_a_host_name_with_ipv6_addresses_only(monkeypatch):
    def resolve(host, port, *args):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "",
                 ("::1", port, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert probe("tcp://master6:5555") == (
        "ipv6-only", "the host name master6 of tcp://master6:5555 has IPv6 "
        "addresses only", "write the IPv6 address in brackets, as in "
        "tcp://[::1]:5555")


class _Socket:
    """Stands in for socket.socket: its connect fails with *error*."""

    error = None

    def __init__(self, *args):
        pass

    def settimeout(self, timeout):
        self.timeout = timeout

    def connect(self, address):
        raise self.error

    def close(self):
        pass


@pytest.mark.parametrize("error, cause, detail", [
    (TimeoutError("timed out"), "no-answer",
     "no answer from tcp://127.0.0.1:5555 within 2 s"),
    (OSError(101, "Network is unreachable"), "unreachable",
     "tcp://127.0.0.1:5555 cannot be reached: Network is unreachable"),
])
def test_a_host_that_cannot_be_reached(monkeypatch, error, cause, detail):
    monkeypatch.setattr(_Socket, "error", error)
    monkeypatch.setattr(socket, "socket", _Socket)
    assert probe("tcp://127.0.0.1:5555")[:2] == (cause, detail)


# ------------------------------------------------------------ when and how


def test_the_probe_never_blocks_the_loop(monkeypatch, tmp_path):
    # a probe that hangs (a DNS lookup that takes its time)
    release = threading.Event()

    def slow(address, timeout=None):
        release.wait(30)
        return ("no-resolve", f"the host name of {address} does not resolve",
                "is the host name right?")
    monkeypatch.setattr(link_module, "examine",
                        lambda address: (slow(address), None))
    with MasterLink(f"ipc://{tmp_path}/status", f"ipc://{tmp_path}/control",
                    read_only=True) as link:
        deadline = time.monotonic() + 1.5
        slowest = 0.0
        while time.monotonic() < deadline:
            start = time.monotonic()
            events = link.drain()
            link.tick(now())
            slowest = max(slowest, time.monotonic() - start)
            assert not problem(events)
            select.select(link.fds(), [], [], 0.05)
        assert slowest < 0.5, slowest
        release.set()
        found = problem(drive(link, problem))
    assert found.cause == "no-resolve"


def test_fixing_the_cause_is_picked_up_without_a_restart(ctx, ipc_addrs):
    status, control = ipc_addrs
    with MasterLink(status, control) as link:
        events = drive(link, problem)
        assert problem(events).cause == "no-socket"
        sockets = bind_master(ctx, status, control)
        events = drive(link, lambda events: link.connected)
        assert sockets and not problem(events)


def test_a_healthy_master_is_never_diagnosed(ctx, ipc_addrs):
    sockets = bind_master(ctx, *ipc_addrs)
    with MasterLink(*ipc_addrs) as link:
        events = drive(link, lambda events: link.connected)
        start = time.monotonic()
        events += drive(link, lambda events: time.monotonic() - start > 4)
    assert sockets and not [e for e in events
                            if isinstance(e, p.LinkProblem)]


def test_the_cause_is_named_again_after_the_master_went_away(ctx, ipc_addrs):
    pub, pull = bind_master(ctx, *ipc_addrs)
    with MasterLink(*ipc_addrs) as link:
        drive(link, lambda events: link.connected)
        pub.close()
        pull.close()
        events = drive(link, problem)
    assert [type(e) for e in events if isinstance(e, p.LinkEvent)] == [
        p.LinkDown, p.LinkProblem]
    # libzmq 4.3 leaves the socket files of a closed socket behind, as a
    # master that stopped does
    assert os.path.exists(ipc_addrs[0][len("ipc://"):])
    assert problem(events).cause == "stale-socket"


# ------------------------------------------------------------ another user


def _nobody():
    if os.geteuid() != 0:
        pytest.skip("needs root, to run the monitor as another user")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' to run the monitor as")


class AsNobody:
    """
    Runs *function(say)* in a forked child as the user ``nobody`` (no exec:
    the interpreter may live where that user cannot read); the child sends
    JSON messages with ``say(obj)``, which :meth:`next` reads.
    """

    def __init__(self, function):
        user = _nobody()
        self.read_fd, write_fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:   # the child
            code = 0
            try:
                os.close(self.read_fd)
                os.setgroups([])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)

                def say(obj):
                    os.write(write_fd, json.dumps(obj).encode() + b"\n")
                function(say)
            except BaseException as exc:
                code = 1
                try:
                    os.write(write_fd, json.dumps(
                        {"error": repr(exc)}).encode() + b"\n")
                except BaseException:
                    pass
            finally:
                os._exit(code)
        os.close(write_fd)
        self.buffer = b""

    def next(self, timeout=30):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise AssertionError("the child said nothing in time")
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                raise AssertionError("the child ended without a word")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        assert "error" not in message, message["error"]
        return message

    def close(self):
        os.close(self.read_fd)
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)


@pytest.fixture
def open_dir():
    """A directory every user may enter (pytest's own are root's only)."""
    folder = tempfile.mkdtemp(prefix="piw-diag-")
    os.chmod(folder, 0o755)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_permission_denied_then_granted_as_another_user(ctx, open_dir):
    status, control = f"ipc://{open_dir}/status", f"ipc://{open_dir}/control"
    sockets = bind_master(ctx, status, control)
    for name in ("status", "control"):
        os.chmod(open_dir / name, 0o755)     # srwxr-xr-x, as the master's

    def monitor(say):
        with MasterLink(status, control) as link:
            say({"problem": problem(drive(link, problem)).describe()})
            drive(link, lambda events: link.connected)
            say({"connected": True})

    child = AsNobody(monitor)
    try:
        assert child.next() == {"problem": (
            f"permission denied on {status}, and the same at the control "
            "queue (the master runs as another user?)")}
        # the administrator lets the monitor's user in: no restart needed
        for name in ("status", "control"):
            os.chmod(open_dir / name, 0o777)
        assert child.next() == {"connected": True}
    finally:
        child.close()
    assert sockets


def test_a_directory_another_user_may_not_enter(ctx, open_dir):
    private = open_dir / "private"
    private.mkdir(mode=0o700)
    status = f"ipc://{private}/status"
    sockets = bind_master(ctx, status, f"ipc://{private}/control")

    def monitor(say):
        with MasterLink(status, "", read_only=True) as link:
            say({"problem": problem(drive(link, problem)).describe()})

    child = AsNobody(monitor)
    try:
        assert child.next() == {"problem": (
            f"permission denied on {status}: this user may not enter "
            f"{private} (the master runs as another user?)")}
    finally:
        child.close()
    assert sockets


def test_check_names_the_permission_problem(ctx, open_dir):
    status, control = f"ipc://{open_dir}/status", f"ipc://{open_dir}/control"
    sockets = bind_master(ctx, status, control)
    for name in ("status", "control"):
        os.chmod(open_dir / name, 0o755)

    def check(say):
        os.environ["HOME"] = str(open_dir)
        sys.stdout = io.StringIO()
        code = app.main(["--status-queue", status, "--control-queue",
                         control, "--check", "--timeout", "3"])
        say({"code": code, "out": sys.stdout.getvalue()})

    child = AsNobody(check)
    try:
        assert child.next() == {"code": 2, "out": (
            f"CRITICAL - piwheels master not reachable: permission denied on "
            f"{status}, and the same at the control queue (the master runs "
            "as another user?)\n")}
    finally:
        child.close()
    assert sockets


# ------------------------------------------------------------ name lookup


def _netns_works():
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_a_host_name_that_does_not_resolve(tmp_path):
    if not _netns_works():
        pytest.skip("cannot make a network namespace (unshare -n), where a "
                    "name lookup cannot reach any DNS server")
    host = "piw-no-such-master.invalid"
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [x for x in [os.environ.get("PYTHONPATH")] if x]))
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "piw_monitor",
         "--status-queue", f"tcp://{host}:5555", "--control-queue",
         f"tcp://{host}:5556", "--check", "--timeout", "5"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60)
    assert result.returncode == 2, result
    assert result.stdout.startswith(
        f"CRITICAL - piwheels master not reachable: the host name {host} of "
        f"tcp://{host}:5555 does not resolve ("), result.stdout
    assert result.stdout.endswith(
        "and the same at the control queue (is the host name right?)\n")
