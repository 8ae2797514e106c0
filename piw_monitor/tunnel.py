"""
The SSH tunnel to a remote master: ``piw-monitor --ssh [USER@]HOST[:PORT]``.

A :class:`Tunnel` runs the system's OpenSSH client (so that the user's own
``~/.ssh/config``, agent, keys and known hosts apply) to forward the master's
status queue, and unless read-only its control queue, from the master's host
to two Unix sockets in a private temporary directory (mode 0700), the same
command as piwheels' own ``piwmon-tunnel.service``::

    ssh -N -T -o BatchMode=yes -o ExitOnForwardFailure=yes
        -o StreamLocalBindUnlink=yes ... -L LOCAL:REMOTE ... -- HOST

The monitor's :class:`~piw_monitor.link.MasterLink` then connects to those
sockets (:attr:`Tunnel.status_queue`, :attr:`Tunnel.control_queue`).

The tunnel is supervised without ever blocking: :meth:`Tunnel.poll`, called
from the monitor's one-second tick (and by the link whenever its connection
changes), reads what ssh wrote on its standard error, reaps it when it has
exited and starts it again once the retry delay has passed (1 s, then twice
as long each time, up to :data:`RETRY_MAX`; back to 1 s after a tunnel that
stayed up for :data:`STABLE`). It returns
:class:`~piw_monitor.protocol.TunnelUp` and
:class:`~piw_monitor.protocol.TunnelDown` events; a TunnelDown carries ssh's
own reason (its last line on standard error) and, for the failures a user
must fix (a refused key, an unknown host key, a bad configuration), advice.

ssh can never prompt inside the console: ``BatchMode=yes``, standard input
from ``/dev/null``, standard error captured, and its own session (no
controlling terminal, and the terminal's hang-up or Ctrl-C do not reach it).
:meth:`Tunnel.close` stops ssh and removes the directory; it is idempotent.

This module imports neither urwid nor 0MQ.
"""

from __future__ import annotations

import collections
import fcntl
import ipaddress
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from . import protocol

__all__ = [
    "Tunnel", "TunnelError", "parse_destination", "remote_target",
    "RETRY_FIRST", "RETRY_MAX", "STABLE",
]

#: The first delay before starting ssh again after it exited, in seconds;
#: each failure in a row doubles it, up to :data:`RETRY_MAX`.
RETRY_FIRST = 1.0
RETRY_MAX = 60.0

#: A tunnel up for this many seconds was a good one: the next failure is
#: retried after :data:`RETRY_FIRST` again.
STABLE = 30.0

#: How long :meth:`Tunnel.close` waits for ssh to end after SIGTERM before
#: it sends SIGKILL, in seconds.
STOP_WAIT = 2.0

#: The ssh options that make the tunnel a supervised, prompt-free child.
#: Options given on the command line beat ``~/.ssh/config``.
SSH_OPTIONS = (
    "BatchMode=yes",                # never ask for a password or passphrase
    "ExitOnForwardFailure=yes",     # a tunnel that cannot forward is down
    "StreamLocalBindUnlink=yes",    # a stale socket file is no obstacle
    "StreamLocalBindMask=0177",     # the sockets are the user's alone
    "ServerAliveInterval=10",       # a dead network ends ssh in 30 s ...
    "ServerAliveCountMax=3",        # ... instead of hours (TCP timeouts)
    "ConnectTimeout=15",
    "ControlMaster=no",             # a connection of its own, supervised
    "ControlPath=none",
    "PermitLocalCommand=no",
)

#: Lines of ssh's standard error kept (the last is the reason it exited).
STDERR_LINES = 20

# What ssh says, what it means, and whether only the user can fix it (the
# headless probes stop waiting then). Searched in the reason, lower case.
_ADVICE = (
    ("permission denied",
     "ssh could not log in to {host} without a prompt (BatchMode): load the "
     "key into ssh-agent (ssh-add) or name it with IdentityFile in "
     "~/.ssh/config, and check that 'ssh {dest} true' asks nothing", True),
    ("host key verification failed",
     "the host key of {host} is unknown or has changed: run 'ssh {dest}' "
     "once to check it and accept it into ~/.ssh/known_hosts", True),
    ("remote host identification has changed",
     "the host key of {host} has changed: check why, then fix "
     "~/.ssh/known_hosts", True),
    ("bad configuration option",
     "ssh refuses its configuration: check ~/.ssh/config", True),
    ("could not resolve hostname",
     "check the host name {host} (and the network)", False),
    ("connection refused",
     "no SSH server answers on {host} (is it restarting?)", False),
    ("forwarding failed",
     "ssh could not set up the forwarding of the master's sockets", False),
)


class TunnelError(Exception):
    """The tunnel cannot start at all; the message is one clear line."""


def parse_destination(text):
    """
    Split an SSH destination ``[USER@]HOST[:PORT]`` into ``(user, host,
    port)``: *user* and *port* (an int from 1 to 65535) are None when not
    given; *host* is a name (or an alias of ``~/.ssh/config``), an IPv4
    address, or an IPv6 address in brackets (returned without them).

    Raises :exc:`ValueError` with the reason for anything else, including
    a destination starting with ``-`` (which ssh would take for an option).
    """
    if not isinstance(text, str) or not text:
        raise ValueError("it is empty (expected [USER@]HOST[:PORT])")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError("it contains white space or control characters")
    user, at, rest = text.rpartition("@")
    if at and not user:
        raise ValueError("no user before '@' (expected [USER@]HOST[:PORT])")
    if user.startswith("-"):
        raise ValueError("a user name cannot start with '-'")
    port = None
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError("an IPv6 address needs a closing ']'")
        host, tail = rest[1:end], rest[end + 1:]
        try:
            ipaddress.IPv6Address(host)   # a zone (%eth0) is allowed
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
        if tail:
            if not tail.startswith(":"):
                raise ValueError("expected ':PORT' after the ']'")
            port = tail[1:]
    else:
        if rest.count(":") > 1:
            raise ValueError(
                "put an IPv6 address in brackets, as in [::1] or [::1]:22")
        host, colon, port_text = rest.partition(":")
        port = port_text if colon else None
        if not host:
            raise ValueError("no host (expected [USER@]HOST[:PORT])")
        if host.startswith("-"):
            raise ValueError("a host name cannot start with '-'")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", host):
            raise ValueError(f"{host!r} is not a host name")
    if port is not None:
        if not (port.isascii() and port.isdigit()):
            raise ValueError(f"the port {port!r} is not a number")
        port = int(port)
        if not 1 <= port <= 65535:
            raise ValueError(f"the port {port} is not between 1 and 65535")
    return (user or None), host, port


def remote_target(address):
    """
    What ssh's ``-L LOCAL:TARGET`` needs to reach the 0MQ *address* (a
    checked ``ipc://`` or ``tcp://`` address as the master's host sees it):
    the socket's path for ``ipc://PATH``, ``HOST:PORT`` for
    ``tcp://HOST:PORT`` (an IPv6 host keeps its brackets).

    Raises :exc:`ValueError` for what ssh cannot forward: an abstract
    socket (``ipc://@name``) and a path holding ``:`` (ssh splits its
    forwarding argument there).
    """
    transport, _, endpoint = address.partition("://")
    if transport == "ipc":
        if endpoint.startswith("@"):
            raise ValueError(
                f"{address}: ssh cannot forward an abstract socket "
                "(ipc://@NAME); give the master a socket file")
        if ":" in endpoint:
            raise ValueError(
                f"{address}: ssh cannot forward a socket path holding ':'")
        return endpoint
    if transport == "tcp":
        return endpoint
    raise ValueError(f"{address}: ssh can forward ipc:// and tcp:// only")


def _advice(reason, host, dest):
    """(advice, fatal) for ssh's *reason* ('' and False when none fits)."""
    low = reason.lower()
    for words, text, fatal in _ADVICE:
        if words in low:
            return text.format(host=host, dest=dest), fatal
    return "", False


class Tunnel:
    """
    A supervised ``ssh -N -L ...`` to *destination* (``[USER@]HOST[:PORT]``)
    forwarding the master's *status_queue* and *control_queue* (0MQ
    addresses on the master's host; *control_queue* None forwards the status
    queue only, for ``--read-only``).

    *ssh* is the command that runs OpenSSH's client, as a sequence (the
    tests add ``-F their_config``). *clock* returns monotonic seconds.
    *retry_first*, *retry_max* and *stable* are the delays, in seconds, of
    :data:`RETRY_FIRST`, :data:`RETRY_MAX` and :data:`STABLE`.

    Raises :exc:`ValueError` for a destination or address it cannot use.
    Nothing runs before :meth:`start`.
    """

    def __init__(self, destination, status_queue, control_queue=None, *,
                 ssh=("ssh",), clock=time.monotonic, retry_first=RETRY_FIRST,
                 retry_max=RETRY_MAX, stable=STABLE):
        self.user, self.host, self.port = parse_destination(destination)
        #: the destination, as given
        self.destination = destination
        #: the master's queues as its host sees them
        self.remote_status = status_queue
        self.remote_control = control_queue
        self._targets = [remote_target(status_queue)]
        if control_queue is not None:
            self._targets.append(remote_target(control_queue))
        self.ssh = tuple(ssh)
        self.clock = clock
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.stable = stable
        #: the private directory holding the local sockets (None before
        #: :meth:`start` and after :meth:`close`)
        self.directory = None
        #: 'idle' (not started), 'starting' (ssh runs, its sockets are not
        #: there yet), 'up', 'down' (waiting to try again) or 'closed'
        self.state = "idle"
        #: how many times ssh was started
        self.attempts = 0
        #: the reason of the last failure ('' when none yet)
        self.reason = ""
        self._proc = None
        self._stderr = None
        self._partial = b""
        self._lines = collections.deque(maxlen=STDERR_LINES)
        self._delay = retry_first
        self._retry_at = None
        self._up_at = None
        self._locals = []

    # ------------------------------------------------------------ queries

    @property
    def status_queue(self):
        """The local address of the forwarded status queue."""
        return f"ipc://{self._locals[0]}" if self._locals else None

    @property
    def control_queue(self):
        """The local address of the forwarded control queue, or None."""
        return f"ipc://{self._locals[1]}" if len(self._locals) > 1 else None

    @property
    def alive(self):
        """True while an ssh process runs (starting or up)."""
        return self.state in ("starting", "up")

    @property
    def pid(self):
        """The running ssh's process id, or None."""
        return self._proc.pid if self._proc is not None else None

    def describe(self, address=None):
        """*address* (the remote status queue by default) as seen via ssh."""
        return f"{address or self.remote_status} via ssh {self.destination}"

    def command(self):
        """The ssh command line (a list) that :meth:`start` runs."""
        cmd = [*self.ssh, "-N", "-T"]
        for option in SSH_OPTIONS:
            cmd += ["-o", option]
        # before start() there are no local sockets yet: no -L either
        for local, target in zip(self._locals, self._targets, strict=False):
            cmd += ["-L", f"{local}:{target}"]
        if self.port is not None:
            cmd += ["-p", str(self.port)]
        if self.user is not None:
            cmd += ["-l", self.user]
        cmd += ["--", self.host]
        return cmd

    # ------------------------------------------------------------ running

    def start(self):
        """
        Make the private directory and start ssh. Returns at once: the
        tunnel comes up (a :class:`~piw_monitor.protocol.TunnelUp` from
        :meth:`poll`) when ssh has logged in and made its sockets. Raises
        :exc:`TunnelError` when ssh cannot be run at all (nothing is left
        behind then).
        """
        if self.state != "idle":
            raise TunnelError("the tunnel was already started")
        # mkdtemp makes the directory 0700: only its owner reaches the
        # sockets, whatever the umask
        self.directory = tempfile.mkdtemp(prefix="piw-monitor-ssh-")
        names = ("status", "control")[:len(self._targets)]
        self._locals = [os.path.join(self.directory, n) for n in names]
        try:
            if ":" in self.directory:
                raise TunnelError(
                    f"the temporary directory {self.directory} holds ':', "
                    "which ssh's -L cannot take (set TMPDIR)")
            self._spawn()
        except BaseException:
            self.close()
            raise

    def _spawn(self):
        for path in self._locals:
            self._unlink(path)
        env = dict(os.environ, SSH_ASKPASS_REQUIRE="never")
        try:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=env, close_fds=True,
                # no controlling terminal: nothing can prompt, and the
                # terminal's SIGHUP or Ctrl-C reach the monitor only, which
                # then stops ssh itself
                start_new_session=True)
        except OSError as exc:
            raise TunnelError(
                f"cannot run {self.ssh[0]}: {exc.strerror or exc} (the "
                "OpenSSH client is needed for --ssh)") from None
        self._stderr = self._proc.stderr
        fd = self._stderr.fileno()
        os.set_blocking(fd, False)
        try:
            # room for minutes of "channel N: open failed" lines between
            # two reads (one a second)
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except OSError:
            pass
        self._partial = b""
        self._lines.clear()
        self.attempts += 1
        self.state = "starting"
        self._retry_at = None

    def poll(self):
        """
        Look after ssh without blocking: read its standard error, notice
        that it made its sockets or that it exited, start it again when its
        retry delay has passed. Returns a list of events (possibly empty):
        :class:`~piw_monitor.protocol.TunnelUp` and
        :class:`~piw_monitor.protocol.TunnelDown`.
        """
        events = []
        now = self.clock()
        if self._proc is not None:
            self._read_stderr()
            status = self._proc.poll()
            if status is None:
                if self.state == "starting" and all(
                        self._is_socket(p) for p in self._locals):
                    self.state = "up"
                    self._up_at = now
                    events.append(protocol.TunnelUp(self.destination))
                return events
            events.append(self._exited(status, now))
        if self.state == "down" and now >= self._retry_at:
            try:
                self._spawn()
            except TunnelError as exc:
                events.append(self._failed(str(exc), now))
        return events

    def _exited(self, status, now):
        self._read_stderr(final=True)
        self._stderr.close()
        self._stderr = self._proc = None
        if self._partial:
            self._keep(self._partial)
            self._partial = b""
        if self._lines:
            reason = self._lines[-1]
        elif status < 0:
            reason = f"ssh was killed by {signal.Signals(-status).name}"
        else:
            reason = f"ssh exited with status {status}"
        if self._up_at is not None and now - self._up_at >= self.stable:
            self._delay = self.retry_first
        self._up_at = None
        # stale socket files must not look like a tunnel that is up
        for path in self._locals:
            self._unlink(path)
        return self._failed(reason, now)

    def _failed(self, reason, now):
        self.state = "down"
        self.reason = reason
        retry = self._delay
        self._retry_at = now + retry
        self._delay = min(self._delay * 2, self.retry_max)
        advice, fatal = _advice(reason, self.host, self.destination)
        return protocol.TunnelDown(
            self.destination, reason, retry, advice, fatal)

    def _read_stderr(self, final=False):
        if self._stderr is None:
            return
        fd = self._stderr.fileno()
        # bounded: a process that holds the pipe open (a ProxyCommand's
        # child, say) cannot keep the caller here
        for _ in range(64 if final else 16):
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                return
            if not data:
                return
            *lines, self._partial = (self._partial + data).split(b"\n")
            for line in lines:
                self._keep(line)
            if len(self._partial) > 4096:
                self._keep(self._partial)
                self._partial = b""

    def _keep(self, raw):
        text = raw.decode("utf-8", "replace").strip()
        text = "".join(c if c.isprintable() else "?" for c in text)[:300]
        if text:
            self._lines.append(text)

    @property
    def stderr_lines(self):
        """The last lines ssh wrote on its standard error (a list)."""
        return list(self._lines)

    @staticmethod
    def _is_socket(path):
        try:
            return stat.S_ISSOCK(os.stat(path).st_mode)
        except OSError:
            return False

    @staticmethod
    def _unlink(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            pass

    # ------------------------------------------------------------ closing

    def close(self):
        """
        Stop ssh (SIGTERM, then SIGKILL after :data:`STOP_WAIT` seconds),
        and remove the private directory. Never raises; closing twice is
        fine.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.terminate()
                try:
                    proc.wait(STOP_WAIT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(STOP_WAIT)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self._stderr is not None:
            try:
                self._stderr.close()
            except OSError:
                pass
            self._stderr = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        self.state = "closed"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
