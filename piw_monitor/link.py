"""
The master link: the monitor's two 0MQ sockets and what happens on them.

A :class:`MasterLink` subscribes to the master's *status queue* (SUB) and
pushes commands to its *control queue* (PUSH). It is driven from outside: the
caller watches :meth:`MasterLink.fds` in its own select loop, calls
:meth:`MasterLink.drain` whenever one of them is readable, and
:meth:`MasterLink.tick` about once a second. Everything the link has to say
comes back from :meth:`~MasterLink.drain` as :mod:`~piw_monitor.protocol`
events, in the order it happened: decoded status frames, :class:`BadFrame`
for frames that are not valid, :class:`LinkUp` / :class:`LinkDown` for the
connection and :class:`CommandSent` for a command handed to the master.

The 0MQ file descriptors are edge-triggered: a wake-up may mean nothing, and
frames already queued raise no new edge. :meth:`~MasterLink.drain` therefore
reads until nothing is left (or until its *limit*, in which case
:attr:`~MasterLink.pending` is true and the caller must call it again without
waiting for a wake-up), and reads ``zmq.EVENTS`` on every socket before it
returns so that no descriptor stays readable for nothing.

The connection is judged with socket monitors: the link is up when the status
queue's handshake has succeeded and (unless read-only) the control queue's
too. Each time it comes up the link sends ``HELLO`` so that the master replays
everything it knows, and sends it again (a few times) if the master's own
``HELLO`` does not follow, since a subscription may not yet have been live at
the master when the first one arrived. A connection that 0MQ dropped without
reconnecting by itself (a frame over the size limit does that) is
disconnected and connected again.

A link may ride on an SSH tunnel (:class:`~piw_monitor.tunnel.Tunnel`,
given as *tunnel*): its sockets are then the tunnel's local ones, and the
link supervises the tunnel as part of its own work (:meth:`MasterLink.tick`
polls it, and so does a change of connection, so that the reason of a drop
is ssh's). While ssh is not running the link is never up and sends nothing.

A connection that the far end accepts and then closes before any master
answers, again and again (a tunnel, external or ours, whose far end has no
master), is reported once per outage with an :class:`Unreachable`.

While the link is not up it finds out why, every :data:`PROBE_EVERY`, and
says so with a :class:`LinkProblem`: a thread *probes* each queue that is not
connected the way 0MQ connects to it, with plain sockets (the socket file
looked up and connected to for ``ipc://``, the host name resolved and its
port connected to for ``tcp://``; nothing is ever sent), since 0MQ itself
only says that it tries again, never why; and the socket monitors tell what
happens past the connection (a handshake that fails, never completes, or is
refused by a 0MQ socket of the wrong kind). The thread posts its findings
through a pipe that :meth:`MasterLink.fds` includes, so nothing slow (a DNS
lookup, a connection that times out) runs in the caller's loop.

This module imports 0MQ and the protocol, never urwid nor the model.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import select
import socket
import stat
import threading
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol
from .protocol import NotSent

__all__ = ["MasterLink", "LinkError", "probe", "examine", "CAUSES"]

#: Frames the status socket may hold before 0MQ stops reading from the master:
#: no limit. With a limit, a monitor that falls that far behind (a replay from
#: a large farm is hundreds of thousands of frames) makes 0MQ stop reading the
#: connection until half the limit has been read; when that takes longer than
#: the heartbeat timeout (with 1,000,000: reading fewer than 83,000 frames a
#: second), the heartbeat, whose answer is not read either, drops the
#: connection with whatever was in flight, and libzmq 4.3.5 may then abort
#: the process ("Assertion failed: _input_stopped", libzmq issue 3937).
#: Without a limit 0MQ keeps reading: what the master sent waits in memory
#: until it is read.
RCVHWM = 0

#: The memory bound, in bytes of the process's resident size, that a
#: backlog of waiting frames may not take the monitor past. A monitor that
#: reads more slowly than the master sends (a flood) would otherwise keep
#: every waiting frame in memory (a 10 s flood once took it to 1.33 GB).
#: Past the bound, the link reads what is waiting without decoding it,
#: reports an :class:`~piw_monitor.protocol.Overflow`, and asks the master
#: for a fresh replay. A real farm never comes near it: the replay of a
#: 5000-slave master peaks at about 200 MB.
MAX_MEMORY = 512 * 2 ** 20

#: How often (seconds) the memory is looked at while a backlog lasts; the
#: longest (seconds) one call of :meth:`MasterLink.drain` spends reading
#: frames without decoding them (the loop serves keys between two calls);
#: and how often (seconds) a long shedding is reported while it lasts.
MEMORY_CHECK = 0.25
SHED_SLICE = 0.02
SHED_REPORT = 1.0

#: ZMTP heartbeats on both sockets, in milliseconds: a master that hangs
#: (SIGSTOP) is noticed as a disconnection after the timeout.
HEARTBEAT_IVL = 2000
HEARTBEAT_TIMEOUT = 6000

#: How long to wait for the master's HELLO after sending ours before sending
#: it again, and how many times to send it again at most.
HELLO_RETRY = dt.timedelta(seconds=2)
HELLO_RETRIES = 5

#: How long after a disconnection without any sign of 0MQ reconnecting by
#: itself the link reconnects the socket (0MQ announces its own retry at once).
RECOVER_DELAY = dt.timedelta(seconds=0.5)

#: A connection that ends sooner than this after its first HELLO was sent
#: is short-lived (the time a HELLO was held back does not count: a hold of
#: 16 s would otherwise make every connection look long-lived).
#: After :data:`SHORT_LIVES` short-lived connections in a row (a master that
#: replays a frame over the size limit every time makes each replay end the
#: connection), the HELLO on the next connection waits 2 s, then 4 s, and so
#: on up to :data:`HELLO_BACKOFF_MAX`, rather than asking the master for a
#: replay twice a second for ever. A connection that lasts resets it; one
#: that ends before its HELLO was sent changes nothing.
SHORT_LIFE = dt.timedelta(seconds=10)
SHORT_LIVES = 3
HELLO_BACKOFF = dt.timedelta(seconds=2)
HELLO_BACKOFF_MAX = dt.timedelta(seconds=60)

#: How long (in ms) closing the control socket waits for a command already
#: handed to a connected master to leave: a QUIT sent just before the monitor
#: exits must not be dropped. 0MQ's IMMEDIATE keeps a command off any pipe
#: but a live connection's, so this never delivers to a later master, and
#: the status socket closes at once: closing never takes longer than this.
FLUSH_LINGER = 250

#: How often the link looks for the reason it cannot reach the master while
#: it is not connected (the first look is :data:`PROBE_GRACE` seconds after
#: :meth:`~MasterLink.open`, time for a running master to answer first).
PROBE_EVERY = dt.timedelta(seconds=3)
PROBE_GRACE = 0.25

#: How long, in seconds, a probe waits for a TCP connection to be accepted,
#: then for the peer's first words (a 0MQ peer greets at once).
PROBE_TIMEOUT = 2.0
GREETING_WAIT = 0.5

#: A connection that 0MQ made but whose handshake has not completed after
#: this long is reported (a peer that accepts and says nothing).
HANDSHAKE_WAIT = dt.timedelta(seconds=3)

#: How long a handshake that failed or ended early counts as the sign that
#: what a probe found listening is not the master (0MQ tries again every
#: 100 ms or so, the link every second).
EVIDENCE_AGE = dt.timedelta(seconds=6)

#: The causes a :class:`~piw_monitor.protocol.LinkProblem` can name, by
#: keyword (documented, with their fixes, in the manual's "When it cannot
#: connect").
CAUSES = {
    "permission": "this user may not connect to the ipc socket",
    "no-search": "this user may not enter a directory on the ipc path",
    "no-socket": "no socket file at the ipc path",
    "no-directory": "a directory on the ipc path does not exist",
    "not-directory": "a part of the ipc path is a file, not a directory",
    "not-socket": "the ipc path is a file of another kind",
    "not-stream": "the ipc path is a socket of another type",
    "stale-socket": "a socket file with nothing listening on it",
    "refused": "nothing listens there (connection refused)",
    "no-resolve": "the host name does not resolve",
    "ipv6-only": "the host name has IPv6 addresses only",
    "no-answer": "no answer to a TCP connection within the timeout",
    "unreachable": "the host or network cannot be reached",
    "not-zmq": "something answers, but not as a 0MQ socket",
    "no-handshake": "something accepts connections but never answers",
    "wrong-type": "a 0MQ socket of the wrong kind answers",
    "error": "any other error connecting (named by the system)",
}

#: Why :meth:`MasterLink.send` sent nothing (:class:`~piw_monitor.protocol.NotSent`).
NOT_CONNECTED = "not connected to the master: nothing was sent"
READ_ONLY = "read-only mode: nothing was sent"
TUNNEL_DOWN = "the SSH tunnel is down: nothing was sent"

#: Connections in a row that the far end accepted and closed before the
#: handshake, after which the link says the master is unreachable.
REFUSALS = 2

_MONITOR_EVENTS = (
    zmq.EVENT_CONNECTED
    | zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_CONNECTED
    | zmq.EVENT_CONNECT_RETRIED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)

_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


class LinkError(Exception):
    """
    The link cannot be opened; the message is one clear line, e.g.
    ``invalid status queue address "foo": Invalid argument``.
    """


def _utc_now():
    return dt.datetime.now(dt.timezone.utc)


def resident_memory():
    """
    The process's resident memory in bytes (Linux: /proc/self/statm), or
    None where it cannot be read.
    """
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _give_memory_back():
    """Return freed heap to the system (glibc's malloc_trim), if possible."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _printable(text, limit=200):
    """*text* with control characters replaced, cut to *limit* characters."""
    text = str(text)
    short = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return short + ("..." if len(text) > limit else "")


# ------------------------------------------------------------ probing
#
# Plain functions of the address, run in the probe thread: they touch no 0MQ
# socket and send nothing, they only connect (and close at once).

_LATE = "is the master running? is the path right?"
_OTHER_USER = "the master runs as another user?"


def probe(address, timeout=PROBE_TIMEOUT):
    """
    Find out whether *address* (``ipc://PATH`` or ``tcp://HOST:PORT``) can
    be connected to, the way 0MQ connects to it, but with a plain socket and
    sending nothing: the ipc path is looked up and connected to; the tcp
    host is resolved (IPv4 first, as 0MQ does, unless the host is an IPv6
    address in brackets) and its port connected to, for up to *timeout*
    seconds.

    Returns None when a connection can be made (whatever listens there),
    else ``(cause, detail, hint)``: a keyword of :data:`CAUSES`, one line
    naming the cause and the address, and a short guess at the fix. Never
    raises for what the system answers. It may block for *timeout* seconds
    (and :data:`GREETING_WAIT`) and for as long as the system's resolver
    takes: call it outside any user-facing loop.
    """
    return examine(address, timeout)[0]


def examine(address, timeout=PROBE_TIMEOUT):
    """
    :func:`probe` *address*, and when a connection can be made, listen (for
    up to :data:`GREETING_WAIT` seconds, sending nothing) to what the peer
    says first: a 0MQ socket greets at once with the ZMTP signature.
    Returns ``(problem, peer)``: *problem* as :func:`probe` returns it, and
    *peer* one of ``"zmtp"`` (it greeted as 0MQ does), ``"other"`` (it said
    something else, or hung up at once), ``"silent"`` (nothing) or None (no
    connection, or no telling).
    """
    transport, sep, endpoint = address.partition("://")
    if not sep or not endpoint:
        return None, None
    if transport == "ipc":
        return _probe_ipc(address, endpoint)
    if transport == "tcp":
        return _probe_tcp(address, endpoint, timeout)
    return None, None


def _peer_kind(sock):
    """What the peer connected on *sock* says first, without a word from us."""
    try:
        ready = select.select([sock], [], [], GREETING_WAIT)[0]
        if not ready:
            return "silent"
        first = sock.recv(16)
    except OSError:
        return None
    # ZMTP 2 and 3 open with 0xFF, 8 bytes of padding and 0x7F (ZMTP 1.0,
    # which piwheels never spoke, is not recognised)
    if len(first) >= 10 and first[0] == 0xFF and first[9] & 1:
        return "zmtp"
    if len(first) < 10 and first[:1] == b"\xff":
        return "zmtp"   # the rest is on its way
    return "other"


def _probe_ipc(address, path):
    if path.startswith("@"):
        # a Linux abstract socket: no file, a name
        return _connect_unix(address, "\0" + path[1:], abstract=True)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return _path_problem(address, path, exc), None
    if not stat.S_ISSOCK(mode):
        return ("not-socket", f"{address} is not a socket but "
                f"{_file_kind(mode)}", "another file is in the way: "
                "is the path right?"), None
    return _connect_unix(address, path)


def _file_kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"),
                       (stat.S_ISREG, "a regular file"),
                       (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "a special file"


def _path_problem(address, path, exc):
    """Why *path* cannot be looked up (*exc*): which part of it is wrong."""
    # from the root down to the socket's directory: the first one missing,
    # not a directory, or closed to this user is the one to name
    chain = []
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        chain.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for folder in reversed(chain):
        try:
            mode = os.stat(folder).st_mode
        except FileNotFoundError:
            return ("no-directory", f"no directory {folder} for {address}",
                    _LATE)
        except OSError:
            break   # named below, from the error on the whole path
        if not stat.S_ISDIR(mode):
            return ("not-directory", f"{folder} is not a directory, in "
                    f"{address}", "is the path right?")
        if not os.access(folder, os.X_OK):
            return ("no-search", f"permission denied on {address}: this "
                    f"user may not enter {folder}", _OTHER_USER)
    if isinstance(exc, FileNotFoundError):
        return ("no-socket", f"no socket file at {address}", _LATE)
    if isinstance(exc, PermissionError):
        return ("permission", f"permission denied on {address}", _OTHER_USER)
    return ("error", f"cannot look up {address}: {exc.strerror or exc}", "")


def _connect_unix(address, target, abstract=False):
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:
        return ("error", f"cannot connect to {address}: {exc.strerror}",
                ""), None
    peer = None
    try:
        # a Unix connection is made or refused at once; non-blocking only
        # so that a listener whose backlog is full cannot hold the probe
        sock.setblocking(False)
        code = sock.connect_ex(target)
        if code == 0:
            peer = _peer_kind(sock)
    finally:
        sock.close()
    if code in (0, errno.EINPROGRESS, errno.EAGAIN):
        return None, peer
    return _unix_error(address, code, abstract), None


def _unix_error(address, code, abstract):
    if code in (errno.EACCES, errno.EPERM):
        return ("permission", f"permission denied on {address}", _OTHER_USER)
    if code == errno.ECONNREFUSED:
        if abstract:
            return ("refused", f"nothing listens on {address} (connection "
                    "refused)", "is the master running?")
        return ("stale-socket", f"nothing listens on {address} (connection "
                "refused): its socket file is left over",
                "from a master that stopped: is the master running?")
    if code == errno.ENOENT:
        return ("no-socket", f"no socket file at {address}", _LATE)
    if code == errno.EPROTOTYPE:
        return ("not-stream", f"{address} is a socket of another type "
                "(not a stream)", "not the master's address?")
    return ("error", f"cannot connect to {address}: {os.strerror(code)}", "")


def _probe_tcp(address, endpoint, timeout):
    host, _, port = endpoint.rpartition(":")
    try:
        port = int(port)
    except ValueError:
        return None, None
    try:
        if host.startswith("[") and host.endswith("]"):
            infos = socket.getaddrinfo(
                host[1:-1], port, socket.AF_INET6, socket.SOCK_STREAM, 0,
                socket.AI_NUMERICHOST)
        else:
            # the blocking part: a DNS lookup
            infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            ipv4 = [info for info in infos if info[0] == socket.AF_INET]
            if infos and not ipv4:
                # 0MQ looks up IPv4 addresses only for a host name
                return ("ipv6-only", f"the host name {host} of {address} has "
                        "IPv6 addresses only", "write the IPv6 address in "
                        "brackets, as in tcp://[::1]:5555"), None
            infos = ipv4
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return ("no-resolve", f"the host name {host} of {address} does not "
                f"resolve ({reason})", "is the host name right?"), None
    if not infos:
        return ("no-resolve", f"the host name {host} of {address} does not "
                "resolve", "is the host name right?"), None
    family, kind, proto, _, sockaddr = infos[0]
    try:
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        return ("unreachable", f"{address} cannot be reached: "
                f"{exc.strerror}", "check the host and the network"), None
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
        return None, _peer_kind(sock)
    except TimeoutError:
        return ("no-answer", f"no answer from {address} within "
                f"{timeout:g} s", "a firewall, or the host is down?"), None
    except ConnectionRefusedError:
        return ("refused", f"connection refused by {address}: nothing "
                f"listens on port {port}", "is the master running, and on "
                "this port?"), None
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH,
                         errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            return ("unreachable", f"{address} cannot be reached: "
                    f"{exc.strerror}", "check the host and the network"), None
        return ("error", f"cannot connect to {address}: "
                f"{exc.strerror or exc}", ""), None
    finally:
        sock.close()


def _needs_ipv6(address):
    """True for a tcp:// address whose host is an IPv6 address in brackets."""
    return address.startswith("tcp://[")


class _Queue:
    """One of the two queues: its socket, monitor socket and connection state."""

    def __init__(self, name, address, sock):
        self.name = name
        self.address = address
        self.sock = sock
        self.monitor = None
        #: the handshake succeeded and no disconnection followed
        self.up = False
        #: when the connection went away, while 0MQ has not said it retries
        self.lost_at = None
        #: a connection is open, its handshake not (yet) done
        self.opened = False
        #: connections in a row closed by the far end before the handshake
        self.refused = 0
        #: when 0MQ connected, while the handshake has not ended (either way)
        self.engaged_at = None
        #: when a handshake last failed or a connection ended before its
        #: handshake completed
        self.failed_at = None
        #: the socket type the master's end must have, for messages
        self.peer = "PUB" if sock.type == zmq.SUB else "PULL"

    def connect(self):
        self.sock.connect(self.address)

    def reconnect(self):
        """Forget the endpoint and connect afresh (0MQ gave up on it)."""
        try:
            self.sock.disconnect(self.address)
        except zmq.ZMQError:
            pass
        self.sock.connect(self.address)

    def close(self, linger=0):
        if self.monitor is not None:
            try:
                self.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self.monitor.close(linger=0)
            self.monitor = None
        self.sock.close(linger=linger)


class MasterLink:
    """
    The link to a piwheels master: a SUB socket on *status_queue* and a PUSH
    socket on *control_queue* (none when *read_only*).

    *context* is the 0MQ context to use (by default the link makes its own
    and destroys it on :meth:`close`). Status frames larger than *max_frame*
    bytes make 0MQ drop the connection (the link then reconnects by itself).
    *clock* returns the current time as an aware UTC datetime; it stamps
    decoding (timestamps far in the future are refused) and the link's timers.
    :meth:`tick` should be given the time from the same clock.

    *tunnel*, when given, is the started
    :class:`~piw_monitor.tunnel.Tunnel` whose local sockets
    *status_queue* and *control_queue* are: the link polls it, reports its
    events, and is never up while ssh is not running. Closing the link does
    not close the tunnel.

    Nothing happens before :meth:`open`. The link is also a context manager
    that closes it on exit.
    """

    def __init__(self, status_queue, control_queue, *, context=None,
                 read_only=False, max_frame=protocol.MAX_FRAME_SIZE,
                 clock=None, tunnel=None):
        #: the status queue's address (the master's PUB)
        self.status_queue = status_queue
        #: the control queue's address (the master's PULL)
        self.control_queue = control_queue
        #: true when the link has no control socket and sends nothing
        self.read_only = read_only
        #: the size limit of a status frame, in bytes
        self.max_frame = max_frame
        #: how many messages arrived on the status queue, valid or not
        self.frames_received = 0
        self._clock = clock or _utc_now
        self._given_context = context
        self._context = None
        self._sub = None
        self._push = None
        self._opened = False
        self._closed = False
        self._up = False
        self._more = False
        self._queued = []
        # HELLO: waiting to be sent; when it was last sent, until the
        # master answers (None: not waiting for an answer); times sent
        self._hello_due = False
        self._hello_at = None
        #: no HELLO before this time (see SHORT_LIVES), or None
        self._hello_hold = None
        #: when this connection's first HELLO went out (None: not yet)
        self._asked_at = None
        self._short_lives = 0
        self._hello_sends = 0
        # (time.monotonic) when the memory was last looked at in a backlog
        self._memory_checked = 0.0
        #: frames read and dropped unread to keep within MAX_MEMORY
        self.frames_dropped = 0
        # (time.monotonic) when a fresh replay was last asked for after one
        self._replay_asked = None
        # while frames are read without decoding: the memory that started
        # it (else None), the frames dropped since the last report, and
        # when (time.monotonic) that was
        self._shedding = None
        self._shed_count = 0
        self._shed_said = 0.0
        #: the SSH tunnel the sockets go through, or None
        self.tunnel = tunnel
        self._unreachable_said = False
        # the diagnosis: the probe thread's findings (start time, {queue
        # name: problem or None}) and the pipe it wakes the loop with, under
        # the lock; whether a probe runs; when the next may start; queue
        # name -> (time, problem or None) of the latest probe; the problem
        # last reported (a tuple), and whether to judge again
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._results = None
        self._wake = None
        self._probing = False
        self._next_probe = None
        self._probed = {}
        self._reported = None
        self._judge_due = False

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ opening

    def open(self):
        """
        Create the sockets and connect them to the master's queues (which
        need not be there yet: 0MQ connects when they appear). Raises
        :class:`LinkError` for an address 0MQ cannot use; nothing is left open
        then. Opening an open link does nothing.
        """
        if self._closed:
            raise LinkError("the master link is closed")
        if self._opened:
            return
        self._stop.clear()   # set by a failed open's release
        self._context = self._given_context or zmq.Context()
        try:
            self._sub = self._make_queue(
                "status queue", self.status_queue, zmq.SUB, {
                    zmq.RCVHWM: RCVHWM,
                    zmq.MAXMSGSIZE: self.max_frame,
                    zmq.SUBSCRIBE: b"",
                })
            self._connect(self._sub)
            if not self.read_only:
                self._push = self._make_queue(
                    "control queue", self.control_queue, zmq.PUSH, {
                        zmq.IMMEDIATE: 1,
                    })
                self._connect(self._push)
            self._wake = os.pipe()
            for fd in self._wake:
                os.set_blocking(fd, False)
        except BaseException:
            self._release()
            raise
        self._opened = True
        self._start_probe(self._clock(), grace=PROBE_GRACE)

    def _make_queue(self, name, address, kind, options):
        sock = self._context.socket(kind)
        queue = _Queue(name, address, sock)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT)
            if _needs_ipv6(address):
                # off by default, and then 0MQ cannot even parse an IPv6
                # address: it retries for ever, silently. Only when needed:
                # with it on, a host name resolves to IPv6 first, and a
                # master listening on IPv4 only would not be found.
                sock.setsockopt(zmq.IPV6, 1)
            for option, value in options.items():
                sock.setsockopt(option, value)
            queue.monitor = sock.get_monitor_socket(_MONITOR_EVENTS)
        except BaseException:
            queue.close()
            raise
        return queue

    @staticmethod
    def _connect(queue):
        try:
            queue.connect()
        except zmq.ZMQError as exc:
            reason = zmq.strerror(exc.errno)
            if exc.errno == errno.ENAMETOOLONG:
                reason = ("the path is longer than the 107 bytes a Unix "
                          "socket allows")
            raise LinkError(
                f'invalid {queue.name} address "{_printable(queue.address)}": '
                f"{reason}") from None
        except (TypeError, ValueError) as exc:
            raise LinkError(
                f'invalid {queue.name} address "{_printable(queue.address)}": '
                f"{_printable(exc, 80)}") from None

    # ------------------------------------------------------------ queries

    def _queues(self):
        return [q for q in (self._sub, self._push) if q is not None]

    def fds(self):
        """
        The file descriptors an external select loop must watch (for
        reading): the status socket's, the control socket's and their
        monitors', and the read end of the pipe through which the probe
        thread posts what it found. They are edge-triggered: call
        :meth:`drain` once right after watching them, then whenever any is
        readable. The same descriptors from :meth:`open` to :meth:`close`;
        empty before and after.
        """
        if not self._opened or self._closed:
            return []
        result = []
        for queue in self._queues():
            result.append(queue.sock.getsockopt(zmq.FD))
            result.append(queue.monitor.getsockopt(zmq.FD))
        result.append(self._wake[0])
        return result

    @property
    def address(self):
        """
        Where the master's status queue is, for people: the status queue's
        address, or with a tunnel the remote one and the SSH destination.
        """
        if self.tunnel is not None:
            return self.tunnel.describe()
        return self.status_queue

    @property
    def connected(self):
        """True between a :class:`LinkUp` and the next :class:`LinkDown`."""
        return self._up

    @property
    def pending(self):
        """
        True when events are waiting that no file descriptor will announce:
        :meth:`drain` stopped at its limit with frames left, or
        :meth:`send` queued a :class:`CommandSent`. Call :meth:`drain` again
        soon (without waiting for a wake-up).
        """
        return self._more or bool(self._queued) or self._judge_due

    # ------------------------------------------------------------ receiving

    def drain(self, limit=None):
        """
        Read everything that is waiting, without blocking, and return it as
        a list of events in arrival order. At most *limit* status frames are
        read (None: no limit); when the limit stops it with frames left,
        :attr:`pending` is true. Never raises for anything the network does.
        """
        events, self._queued = self._queued, []
        self._more = False
        if not self._opened or self._closed:
            return events
        if self._probing:
            self._take_findings()
        count = 0
        max_frame = self.max_frame
        while True:
            now = self._clock()
            # frames first: those already queued arrived before any
            # disconnection the monitors may be reporting
            recv = self._sub.sock.recv
            start = count
            frames = []
            keep = frames.append
            # (place among the messages read, BadFrame): rare, kept apart
            multipart = []
            while limit is None or count < limit:
                try:
                    # a zmq.Frame says whether more parts follow without
                    # the (slow) RCVMORE socket option that recv_multipart
                    # reads after every part
                    frame = recv(zmq.NOBLOCK, copy=False)
                except zmq.ZMQError:  # zmq.Again: nothing left
                    break
                count += 1
                if frame.more:
                    # 0MQ delivers a message whole: the rest is there
                    rest = self._sub.sock.recv_multipart(zmq.NOBLOCK)
                    multipart.append((len(frames) + len(multipart),
                                      protocol.BadFrame(
                                          "multipart message", len(frame)
                                          + sum(len(p) for p in rest))))
                    continue
                keep(frame)
            if frames or multipart:
                self._decode(frames, multipart, now, max_frame, events)
            self.frames_received += count - start
            self._read_monitors(events)
            if self._judge_due:
                self._diagnose(events)
            if self._hello_due:
                self._send_hello()
            readable = self._readable()
            if limit is not None and count >= limit:
                if readable:
                    self._bound_memory(events)
                    readable = self._readable()
                self._more = readable
                return events
            if not readable:
                return events

    def _decode(self, frames, multipart, now, max_frame, events):
        """
        Decode *frames* (``zmq.Frame`` objects) read at *now*, in one batch,
        onto *events*, with the :class:`~piw_monitor.protocol.BadFrame` of
        each multipart message read among them put back in its place
        (*multipart*: ``(place, BadFrame)`` pairs, in order).
        """
        decoded = protocol.decode_statuses(frames, now, max_frame)
        for place, bad in multipart:
            decoded.insert(place, bad)
        if self._hello_at is not None:
            hello = protocol.MasterHello
            if any(type(event) is hello for event in decoded):
                # the master's answer to a HELLO (ours or another
                # monitor's): our subscription is live, and the replay
                # follows
                self._hello_at = None
        events.extend(decoded)

    def _bound_memory(self, events):
        """
        In a backlog: once the process is past :data:`MAX_MEMORY`, read
        what is waiting without decoding it, :data:`SHED_SLICE` seconds a
        call, until nothing waits; then give the memory back, ask for a
        fresh replay and report an :class:`~piw_monitor.protocol.Overflow`
        in *events* (and every :data:`SHED_REPORT` seconds meanwhile).
        """
        mono = time.monotonic()
        if self._shedding is None:
            if mono - self._memory_checked < MEMORY_CHECK:
                return
            self._memory_checked = mono
            memory = resident_memory()
            if memory is None or memory <= MAX_MEMORY:
                return
            self._shedding = memory
            self._shed_count = 0
            self._shed_said = mono
        recv = self._sub.sock.recv
        dropped = 0
        dry = False
        deadline = mono + SHED_SLICE
        while True:
            try:
                recv(zmq.NOBLOCK)
            except zmq.ZMQError:
                dry = True
                break
            dropped += 1
            if not dropped % 256 and time.monotonic() > deadline:
                break
        self.frames_received += dropped
        self.frames_dropped += dropped
        self._shed_count += dropped
        if dry:
            _give_memory_back()
            # a replay goes to every monitor: ask at most once a minute
            asked = False
            if self._replay_asked is None or mono - self._replay_asked >= 60:
                asked = self.ask_replay()
                if asked:
                    self._replay_asked = mono
            events.append(protocol.Overflow(
                self._shed_count, self._shedding, asked))
            self._shedding = None
        elif mono - self._shed_said >= SHED_REPORT:
            events.append(protocol.Overflow(
                self._shed_count, self._shedding, False))
            self._shed_count = 0
            self._shed_said = mono

    def ask_replay(self):
        """
        Ask the master for a fresh replay (HELLO) now: True when asked,
        False when it cannot be (read-only, or not connected).
        """
        if self._push is None or not self._up:
            return False
        self._hello_due = True
        self._hello_sends = 0
        self._hello_hold = None
        self._send_hello()
        return True

    def _readable(self):
        """
        Read ``zmq.EVENTS`` on every socket (which resets their file
        descriptors) and say whether any but the control socket has
        something to read.
        """
        readable = False
        for queue in self._queues():
            for sock in (queue.sock, queue.monitor):
                try:
                    flags = sock.getsockopt(zmq.EVENTS)
                except zmq.ZMQError:
                    continue
                if flags & zmq.POLLIN and not (
                        queue is self._push and sock is queue.sock):
                    readable = True
        return readable

    def _read_monitors(self, events):
        for queue in self._queues():
            while True:
                try:
                    msg = recv_monitor_message(queue.monitor, zmq.NOBLOCK)
                except zmq.Again:
                    break
                except (zmq.ZMQError, ValueError, TypeError):
                    break
                self._monitor_event(queue, msg.get("event"), events)

    def _poll_tunnel(self, events):
        """
        Let the tunnel (if any) look after ssh and add its events to
        *events*; when ssh has exited, the link goes down at once.
        """
        if self.tunnel is None:
            return
        for event in self.tunnel.poll():
            if type(event) is protocol.TunnelDown and self._up:
                # the drop is the tunnel's: no evidence against the replay
                self._up = False
                self._hello_due = False
                self._hello_at = None
                events.append(protocol.LinkDown(
                    f"SSH tunnel down: {event.reason}"))
            events.append(event)

    def _tunnel_ok(self):
        return self.tunnel is None or self.tunnel.alive

    def _monitor_event(self, queue, event, events):
        if event in (zmq.EVENT_HANDSHAKE_SUCCEEDED, zmq.EVENT_DISCONNECTED):
            # what the tunnel has to say comes first: it is often the cause
            self._poll_tunnel(events)
        if event == zmq.EVENT_CONNECTED:
            queue.opened = True
            queue.engaged_at = self._clock()
        elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            queue.up = True
            queue.lost_at = None
            queue.opened = False
            queue.refused = 0
            queue.engaged_at = None
            if not self._up and self._sub.up and (
                    self._push is None or self._push.up) and self._tunnel_ok():
                self._unreachable_said = False
                self._up = True
                self._asked_at = None
                # a new diagnosis starts from nothing after the next loss
                self._reported = None
                self._probed = {}
                for each in self._queues():
                    each.failed_at = None
                wait = None
                if self._push is not None:
                    self._hello_due = True
                    self._hello_sends = 0
                    self._hello_hold = None
                    if self._short_lives >= SHORT_LIVES:
                        wait = min(HELLO_BACKOFF * 2 ** min(
                            self._short_lives - SHORT_LIVES, 5),
                            HELLO_BACKOFF_MAX)
                        self._hello_hold = self._clock() + wait
                events.append(protocol.LinkUp(
                    wait.total_seconds() if wait else 0.0))
        elif event == zmq.EVENT_CONNECT_RETRIED:
            # 0MQ reconnects by itself
            queue.lost_at = None
        elif event == zmq.EVENT_DISCONNECTED or (event or 0) & _HANDSHAKE_FAILED:
            was_up = queue.up
            queue.up = False
            queue.lost_at = self._clock()
            if queue.opened and not was_up:
                queue.refused += 1
            queue.opened = False
            if (queue.refused >= REFUSALS and not self._up
                    and not self._unreachable_said and self._tunnel_ok()):
                self._unreachable_said = True
                events.append(protocol.Unreachable(self._unreachable_reason(
                    queue)))
            if not was_up and (event != zmq.EVENT_DISCONNECTED
                               or queue.engaged_at is not None):
                # a handshake failed, or the connection ended before it
                # completed (what a 0MQ peer of the wrong kind does)
                queue.failed_at = queue.lost_at
            queue.engaged_at = None
            if self._up and was_up:
                self._up = False
                # give a master that restarts time to be back before
                # looking for a reason
                self._next_probe = queue.lost_at + PROBE_EVERY
                self._hello_due = False
                self._hello_at = None
                if self._asked_at is None:
                    pass  # ended before asking for a replay: no evidence
                elif queue.lost_at - self._asked_at < SHORT_LIFE:
                    self._short_lives += 1
                else:
                    self._short_lives = 0
                events.append(protocol.LinkDown(
                    f"{queue.name} disconnected",
                    self._short_lives if self._short_lives >= SHORT_LIVES
                    else 0))

    def _unreachable_reason(self, queue):
        if self.tunnel is not None:
            remote = (self.tunnel.remote_status if queue is self._sub
                      else self.tunnel.remote_control)
            return (f"the SSH tunnel to {self.tunnel.destination} is up, but "
                    f"nothing answers at {remote} there: is the master "
                    "running?")
        return (f"{queue.address} accepts connections but closes them before "
                "any master answers (a tunnel whose far end has no master?)")

    # ------------------------------------------------------------ sending

    def _send_hello(self):
        if self._hello_hold is not None:
            if self._clock() < self._hello_hold:
                return  # tick() sends it when the time comes
            self._hello_hold = None
        try:
            self._push.sock.send(protocol.hello(), zmq.NOBLOCK)
        except zmq.ZMQError:
            # the control pipe is not attached yet: its descriptor wakes the
            # loop when it is, and tick() tries again meanwhile
            return
        self._hello_due = False
        self._hello_at = self._clock()
        if self._asked_at is None:
            self._asked_at = self._hello_at
        self._hello_sends += 1

    def send(self, message, data=protocol.NO_DATA):
        """
        Hand the control *message* (with *data*: a slave id, None for all,
        or nothing) to the master now, or raise :class:`~piw_monitor.protocol.NotSent`: nothing is
        ever queued for later, and nothing is sent while the link is not
        :attr:`connected`. On success the next :meth:`drain` returns a
        :class:`CommandSent` (and :attr:`pending` is true until then). An
        unknown message or wrong data raises ValueError.
        """
        if self.read_only:
            raise NotSent(READ_ONLY)
        frame = protocol.encode_control(message, data)
        if not self._tunnel_ok():
            raise NotSent(TUNNEL_DOWN)
        if not self._up:
            # the control socket may still hold a pipe to a master that is
            # going away: what went into it would be lost
            raise NotSent(NOT_CONNECTED)
        try:
            self._push.sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            raise NotSent(NOT_CONNECTED) from None
        except zmq.ZMQError as exc:
            raise NotSent(
                f"{zmq.strerror(exc.errno)}: nothing was sent") from None
        finally:
            # only the control socket's: reading the status socket's EVENTS
            # here could swallow the edge that announces waiting frames
            try:
                self._push.sock.getsockopt(zmq.EVENTS)
            except zmq.ZMQError:
                pass
        self._queued.append(protocol.CommandSent(message, data))

    # ------------------------------------------------------------ timers

    def tick(self, now):
        """
        Let time pass (call about once a second with the link's clock's
        *now*): send HELLO again while the master has not answered, and
        reconnect a socket that 0MQ gave up on. Reconnecting can hide the
        edge of frames already waiting: call :meth:`drain` afterwards when
        :attr:`pending` is true.
        """
        if not self._opened or self._closed:
            return
        self._poll_tunnel(self._queued)
        # through a tunnel that is down, the probe would only find our own
        # private socket paths empty: the tunnel's reason is the one
        if not self._up and not self._probing and self._tunnel_ok() and (
                self._next_probe is None or now >= self._next_probe):
            self._start_probe(now)
        if self._hello_due:
            self._send_hello()
        if (self._up and self._hello_at is not None
                and now - self._hello_at >= HELLO_RETRY):
            if self._hello_sends <= HELLO_RETRIES:
                self._send_hello()
            else:
                self._hello_at = None
        for queue in self._queues():
            if (not queue.up and queue.lost_at is not None
                    and now - queue.lost_at >= RECOVER_DELAY):
                queue.lost_at = None
                try:
                    queue.reconnect()
                except zmq.ZMQError:
                    queue.lost_at = now
                self._more = self._more or self._readable()

    # ------------------------------------------------------------ diagnosis

    def _start_probe(self, now, grace=0.0):
        """Probe, in a thread, the queues 0MQ has not connected (after *grace* s)."""
        self._next_probe = now + PROBE_EVERY
        targets = [q for q in self._queues()
                   if not q.up and q.engaged_at is None]
        if not targets:
            # nothing to knock on; time alone may have made a cause (a
            # connection whose handshake never ends): judge at once
            self._judge_due = True
            return
        self._probing = True
        threading.Thread(
            target=self._probe, args=(targets, now, grace),
            name="piw-monitor probe", daemon=True).start()

    def _probe(self, targets, started, grace):
        # The probe thread: only plain sockets and the file system here,
        # never a 0MQ socket (they are not thread-safe). It may outlive the
        # link (a DNS lookup cannot be cut short): it is a daemon thread, and
        # it posts nothing once the link is closed.
        if grace and self._stop.wait(grace):
            return
        found = {}
        for queue in targets:
            if queue.up or queue.engaged_at is not None:
                continue   # 0MQ got there meanwhile: no need to knock
            try:
                found[queue.name] = examine(queue.address)
            except Exception as exc:  # a bug here must not hide the rest
                found[queue.name] = ((
                    "error", f"cannot check {_printable(queue.address)}: "
                    f"{_printable(exc, 80)}", ""), None)
        with self._lock:
            if self._closed or self._wake is None:
                return
            self._results = (started, found)
            try:
                os.write(self._wake[1], b"!")
            except OSError:
                pass

    def _take_findings(self):
        """Collect what the probe thread posted, if it has finished."""
        with self._lock:
            # emptied under the lock: the thread writes its byte under it
            # too, so no byte is left behind to keep the pipe readable
            try:
                while os.read(self._wake[0], 64):
                    pass
            except OSError:   # BlockingIOError: nothing left
                pass
            results, self._results = self._results, None
        if results is None:
            return
        self._probing = False
        started, found = results
        if not self._up:
            self._probed.update(found)
            self._judge_due = True

    def _queue_problem(self, queue, now):
        """Why *queue* is not connected, as a (cause, detail, hint), or None."""
        address = _printable(queue.address)
        if queue.engaged_at is not None:
            if now - queue.engaged_at >= HANDSHAKE_WAIT:
                return ("no-handshake", f"{address} accepts connections but "
                        "never completes a 0MQ handshake", "not the master's "
                        "address, or a master that hangs?")
            return None   # the handshake is under way
        problem, peer = self._probed.get(queue.name, (None, None))
        if problem is not None:
            return (problem[0], problem[1].replace(
                queue.address, address), problem[2])
        if peer is None or queue.failed_at is None or (
                now - queue.failed_at >= EVIDENCE_AGE):
            # no connection to tell by, or no sign that 0MQ fails on it
            return None
        if peer == "zmtp":
            return ("wrong-type", f"{address} is a 0MQ socket of the wrong "
                    f"kind (the {queue.name} needs the master's "
                    f"{queue.peer})", "the status and control queue "
                    "addresses swapped?")
        if peer == "silent":
            return ("no-handshake", f"{address} accepts connections but "
                    "never completes a 0MQ handshake", "not the master's "
                    "address, or a master that hangs?")
        return ("not-zmq", f"{address} answers, but not as a 0MQ socket",
                "not the master's address?")

    def _diagnose(self, events):
        """Append a LinkProblem to *events* when the reason changed."""
        self._judge_due = False
        if self._up or not self._opened or self._closed:
            return
        now = self._clock()
        queues = self._queues()
        found = [(q, self._queue_problem(q, now)) for q in queues]
        failing = [(q, p) for q, p in found if p is not None]
        if not failing:
            report = None
        else:
            queue, (cause, detail, hint) = failing[0]
            if len(queues) == 2:
                other = queues[1] if queue is queues[0] else queues[0]
                other_problem = dict(found)[other]
                if other_problem is None and (
                        other.up or other.engaged_at is not None
                        or self._probed.get(other.name, (None, None))[1]):
                    # only one of the two answers: say which
                    detail = (f"the {other.name} answers, the {queue.name} "
                              f"does not: {detail}")
                elif other_problem is not None and \
                        other_problem[0] == cause:
                    detail += f", and the same at the {other.name}"
            report = (cause, queue.name, queue.address, detail, hint)
        if report == self._reported:
            return
        self._reported = report
        events.append(protocol.LinkProblem(*report) if report
                      else protocol.LinkProblem())

    # ------------------------------------------------------------ closing

    def close(self):
        """
        Close the sockets, and the context if the link made it: the status
        socket at once, the control socket after at most
        :data:`FLUSH_LINGER` ms for a command just sent to leave, anything
        else unsent dropped. Never hangs; closing twice is fine.
        """
        if self._closed:
            return
        self._closed = True
        self._up = False
        self._more = False
        self._queued = []
        self._release()

    def _release(self):
        self._stop.set()
        with self._lock:
            # under the lock: the probe thread writes to the pipe under it
            for fd in self._wake or ():
                os.close(fd)
            self._wake = None
        for queue in self._queues():
            try:
                queue.close(FLUSH_LINGER if queue is self._push else 0)
            except zmq.ZMQError:
                pass
        self._sub = self._push = None
        if self._context is not None and self._given_context is None:
            self._context.destroy(linger=0)
        self._context = None
