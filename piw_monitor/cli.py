"""
The command line and the configuration files of :program:`piw-monitor`.

The options are those of the original piwheels monitor (``-c FILE``,
``--status-queue ADDR``, ``--control-queue ADDR``) plus ``--demo``.

Configuration files are read the way the rest of the piwheels suite reads
them (its ``terminal.configure_parser`` uses configargparse with the same
three default files and its default file syntax), so one
``piwheels.conf`` serves the master and its monitors:

* the files in :data:`CONFIG_FILES` are read in order when they exist, then
  the file named by ``-c FILE``; a later file beats an earlier one, and the
  command line beats every file; a file of the list that the user has no
  permission to read is skipped (it is typically the master's own, holding
  its database password), any other failure to read a file is an error;
* a file holds ``key = value`` lines (``key: value`` and ``key value`` work
  too); ``#`` and ``;`` start comments; ``[section]`` headers are accepted
  and *ignored*, exactly as piwheels ignores them, so a key counts wherever
  it appears;
* the keys piw-monitor reads are listed in :data:`FILE_KEYS`
  (``status-queue``, ``control-queue`` and ``ssh``); every other key, meant for
  another piwheels tool (``dsn``, ``output-path``, ``pypi-xmlrpc``, ...),
  is ignored silently;
* a file must be a regular file of at most :data:`MAX_CONFIG_SIZE` bytes of
  UTF-8 text (a byte-order mark at its start is allowed, and skipped): a
  device, a named pipe, a socket or a directory is refused before anything
  is read from it, so that ``-c /dev/zero`` cannot fill the memory and a
  named pipe without a writer cannot make the program wait for ever.

Every mistake (an unknown option, a missing, unreadable or malformed
configuration file, an address that is not a valid 0MQ address) ends the
program with exit status 2 and one line on standard error, such as::

    piw-monitor: error: argument --status-queue: invalid status queue
    address 'tcp://master': no port (expected tcp://HOST:PORT)

(shown here on two lines, but printed on one).
"""

import argparse
import codecs
import io
import ipaddress
import os
import re
import stat
import sys

import configargparse

from . import __version__
from .pressure import DEFAULT_THRESHOLDS, Thresholds, parse_thresholds
from .protocol import MAX_FRAME_SIZE

__all__ = [
    "CONFIG_FILES", "FILE_KEYS", "MAX_CONFIG_SIZE", "DEFAULT_STATUS_QUEUE",
    "DEFAULT_CONTROL_QUEUE", "DESCRIPTION", "check_address", "make_parser",
    "parse_args", "print_unknown", "report_error",
]

#: The configuration files read, in this order, when they exist (the same
#: list as the rest of the piwheels suite). A later file beats an earlier one;
#: a file given with ``-c`` is read last and beats them all.
CONFIG_FILES = [
    "/etc/piwheels.conf",
    "/usr/local/etc/piwheels.conf",
    "~/.config/piwheels/piwheels.conf",
]

#: The options that a configuration file may set, by key. Any other key in a
#: file is ignored, so that one file can serve every piwheels tool (and so
#: that a key such as ``help`` or ``version`` in it cannot act as an option).
FILE_KEYS = ("status-queue", "control-queue", "ssh", "memory-thresholds",
             "swap-thresholds", "disk-thresholds", "load-thresholds",
             "temp-thresholds")

#: What the value of each key of :data:`FILE_KEYS` is, for error messages.
_KEY_VALUES = {"ssh": "[USER@]HOST[:PORT]", **{
    f"{r}-thresholds": "CAREFUL,WARNING,CRITICAL"
    for r in ("memory", "swap", "disk", "load", "temp")}}

#: What one value of a key is called, for error messages.
_KEY_WORDS = {"ssh": "destination", **{
    f"{r}-thresholds": "list of three thresholds (CAREFUL,WARNING,CRITICAL)"
    for r in ("memory", "swap", "disk", "load", "temp")}}

#: The largest configuration file read, in bytes (1 MiB): a piwheels.conf is
#: a few hundred bytes, and anything much larger is not one.
MAX_CONFIG_SIZE = 1 << 20

#: What a file that is not a regular file is, by the type in its mode.
_FILE_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
}

#: The piwheels master's default status queue.
DEFAULT_STATUS_QUEUE = "ipc:///tmp/piw-status"

#: The piwheels master's default control queue.
DEFAULT_CONTROL_QUEUE = "ipc:///tmp/piw-control"

#: The text ``--help`` shows above the options.
DESCRIPTION = (
    "The piw-monitor application is used to monitor (and optionally "
    "control) the piw-master script. Upon startup it will request the status "
    "of all build slaves currently known to the master, and will then "
    "continually update its display as the slaves progress through builds. "
    "The controls at the bottom of the display allow the administrator to "
    "pause or resume the master script, kill build slaves that are having "
    "issues (e.g. excessive resource consumption from a huge build) or "
    "terminate the master itself.")

# The longest path an ipc:// address may hold: a Unix socket's sun_path is
# 108 bytes including the terminating NUL, and libzmq refuses longer paths.
_MAX_IPC_PATH = 107

# A host name: dot-separated labels of letters, digits, hyphens (and, as
# resolvers accept them, underscores), none starting or ending with a hyphen.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")

_TRANSPORTS = "ipc:// or tcp://"


def _shown(value, limit=80):
    """
    *value* quoted for an error message: control characters, surrogates and
    other unprintable characters escaped, and cut at *limit* characters.
    """
    if len(value) > limit:
        value = value[:limit] + "..."
    return "'" + "".join(
        c if c.isprintable() else repr(c)[1:-1] for c in value) + "'"


def _one_line(text):
    """*text* made safe to print as a single line of a terminal."""
    return "".join(
        c if c.isprintable() else (" " if c in "\n\r\t" else repr(c)[1:-1])
        for c in text)


def report_error(message, *, check=False):
    """
    Say the error *message*: one line, ``piw-monitor: error: ...``, on
    standard error; for a ``--check`` probe (*check*) also ``UNKNOWN -
    ...`` on standard output, the line a monitoring system reads.
    """
    line = _one_line(str(message))
    sys.stderr.write(f"piw-monitor: error: {line}\n")
    sys.stderr.flush()
    if check:
        print_unknown(line)


def print_unknown(reason):
    """
    ``UNKNOWN - reason`` on standard output: the line a monitoring system
    reads from a ``--check`` probe that could not run. Never raises: with
    standard output closed, a broken pipe, a full disk or an encoding that
    cannot take the reason, the exit status (3) tells the rest.
    """
    try:
        sys.stdout.write(f"UNKNOWN - {_one_line(str(reason))}\n")
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError, UnicodeError):
        pass


def _check_host(host, connect):
    """The reason *host* (of a tcp:// address) is not valid, or None."""
    if host == "*":
        if connect:
            return ("'*' (every interface) is for binding; a monitor connects "
                    "to a host, as in tcp://localhost:5555")
        return None
    if host.startswith("["):
        if not host.endswith("]"):
            return "an IPv6 address needs a closing ']'"
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{_shown(host[1:-1])} is not an IPv6 address"
        return None
    if ":" in host:
        return "put an IPv6 address in brackets, as in tcp://[::1]:5555"
    if not host:
        return "no host (expected tcp://HOST:PORT)"
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{_shown(host)} is not an IPv4 address"
        return None
    if len(host) > 253:
        return "the host name is longer than 253 characters"
    labels = host[:-1] if host.endswith(".") else host  # a rooted name
    if not all(_LABEL.match(label) for label in labels.split(".")):
        return f"{_shown(host)} is not a valid host name"
    return None


def _address_problem(value, connect):
    """The reason *value* is not a valid 0MQ address, or None."""
    if not isinstance(value, str):
        return "not a string"
    if not value:
        return "it is empty"
    if value != value.strip():
        return "it has white space at the start or the end"
    if not all(c.isprintable() for c in value):
        return "it contains control or unprintable characters"
    transport, sep, endpoint = value.partition("://")
    if not sep:
        return f"expected TRANSPORT://ENDPOINT with a transport of {_TRANSPORTS}"
    if transport == "ipc":
        if not endpoint:
            return "no path (expected ipc://PATH, e.g. ipc:///tmp/piw-status)"
        if len(endpoint.encode("utf-8", "surrogateescape")) > _MAX_IPC_PATH:
            return (f"the path is longer than the {_MAX_IPC_PATH} bytes a "
                    "Unix socket allows")
        return None
    if transport == "tcp":
        if not endpoint:
            return "no host and port (expected tcp://HOST:PORT)"
        if ";" in endpoint:
            return "a source address (SOURCE;HOST:PORT) is not supported"
        if endpoint.startswith("["):
            end = endpoint.find("]")
            if end < 0:
                return "an IPv6 address needs a closing ']'"
            host, rest = endpoint[:end + 1], endpoint[end + 1:]
            if not rest.startswith(":"):
                return "no port (expected tcp://[IPV6]:PORT)"
            port = rest[1:]
        else:
            host, sep, port = endpoint.rpartition(":")
            if not sep:
                return "no port (expected tcp://HOST:PORT)"
        if not port:
            return "no port (expected tcp://HOST:PORT)"
        if not (port.isascii() and port.isdigit()):
            return f"the port {_shown(port)} is not a number"
        if not 1 <= int(port) <= 65535:
            return f"the port {int(port)} is not between 1 and 65535"
        return _check_host(host, connect)
    if transport == "inproc":
        # 0MQ would take it, and the monitor would wait for ever
        return ("inproc:// reaches only sockets in the same process, and the "
                "master runs in its own (use ipc:// or tcp://)")
    return f"unsupported transport {_shown(transport)} (use {_TRANSPORTS})"


def check_address(value, what="queue", *, connect=False):
    """
    Check that *value* is a 0MQ address piw-monitor can use and return it.

    Accepted are ``ipc://PATH`` (a path of at most 107 bytes; ``@name`` is a
    Linux abstract socket), ``tcp://HOST:PORT`` (a host name, an IPv4
    address, an IPv6 address in brackets or ``*``, and a port from 1 to
    65535). ``inproc://`` is refused: it reaches only sockets in the same
    process, never a master. With *connect* true the address must be
    one a socket can connect to, so the host ``*`` (every interface, which
    only a binding socket understands) is refused. The check is syntactic
    only: nothing is resolved or connected.

    Raises :exc:`ValueError` naming *what* (for example ``"status queue"``)
    and the reason otherwise.
    """
    problem = _address_problem(value, connect)
    if problem is not None:
        shown = _shown(value) if isinstance(value, str) else repr(value)
        raise ValueError(f"invalid {what} address {shown}: {problem}")
    return value


def _address_type(what):
    """An argparse ``type=`` callable that checks a *what* address."""
    def convert(value):
        try:
            return check_address(value, what, connect=True)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = what.replace(" ", "_") + "_address"
    return convert


def _destination(value):
    """An argparse ``type=`` for ``--ssh``: a checked SSH destination."""
    from .tunnel import parse_destination
    try:
        parse_destination(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid SSH destination {_shown(value)}: {exc}") from None
    return value


def _open_nonblocking(path, flags):
    """An ``opener`` for :func:`open` that never waits for a writer."""
    return os.open(path, flags | os.O_NONBLOCK)


class _FileParser(configargparse.DefaultConfigFileParser):
    """
    The piwheels configuration file syntax (configargparse's default), with
    error messages that give the file and the 1-based line number.
    """

    def parse(self, stream):
        """Parse *stream*; a line that makes no sense raises with its place."""
        name = getattr(stream, "name", "configuration file")
        items = {}
        for number, line in enumerate(stream, start=1):
            try:
                parsed = super().parse([line])
            except configargparse.ConfigFileParserException:
                raise configargparse.ConfigFileParserException(
                    f"{name}, line {number}: cannot understand "
                    f"{_shown(line.strip())} (expected 'key = value')"
                ) from None
            for key, value in parsed.items():
                # only piw-monitor's own keys: the others belong to other
                # tools, whatever their syntax
                # (exactly as configargparse matches them: status_queue is
                # not ours, and is ignored whatever its value)
                if key not in FILE_KEYS:
                    continue
                if isinstance(value, list):
                    raise configargparse.ConfigFileParserException(
                        f"{name}, line {number}: {key}: one "
                        f"{_KEY_WORDS.get(key, 'address')} "
                        f"expected, not a list")
                if value == "" or value == "true" and re.fullmatch(
                        rf"\s*{re.escape(key)}\s*(?:[#;].*)?", line.strip()):
                    raise configargparse.ConfigFileParserException(
                        f"{name}, line {number}: {key}: no value (expected "
                        f"'{key} = {_KEY_VALUES.get(key, 'ADDRESS')}')")
            items.update(parsed)
        return items


class _Parser(configargparse.ArgumentParser):
    """
    The configargparse parser with piw-monitor's habits: only the keys in
    :data:`FILE_KEYS` are read from files, configuration files must be UTF-8
    text, and every error is one line on stderr and exit status
    :attr:`error_status` (2; 3, UNKNOWN, for a ``--check`` probe).
    """

    #: the exit status of a usage or configuration error
    error_status = 2

    def __init__(self, **kwargs):
        self._default_paths = {
            os.path.expanduser(path)
            for path in kwargs.get("default_config_files", ())}
        super().__init__(
            config_file_open_func=self._open_config,
            config_file_parser_class=_FileParser,
            ignore_unknown_config_file_keys=True,
            add_config_file_help=False,
            add_env_var_help=False,
            **kwargs)

    def get_possible_config_keys(self, action):
        """Only the options in :data:`FILE_KEYS` may be set from a file."""
        return [
            key for key in super().get_possible_config_keys(action)
            if key.lstrip(self.prefix_chars) in FILE_KEYS]

    def _open_config(self, path):
        """
        Read the configuration file *path* (a regular file of at most
        :data:`MAX_CONFIG_SIZE` bytes) as UTF-8 text, a byte-order mark at
        its start skipped, and return it as a text stream named *path*.

        Any failure is a clear error (exit status 2), except that a default
        file the user is not permitted to read (a master's file holding its
        database password, say) is skipped: there would be no way around it
        otherwise.
        """
        def refuse(reason):
            self.error(f"cannot read configuration file {_shown(path, 1024)}: "
                       f"{reason}")

        try:
            # stat first: opening a named pipe for reading waits for a
            # writer, and opening a device may do something
            problem = self._kind_problem(os.stat(path).st_mode)
            if problem:
                refuse(problem)
            # O_NONBLOCK: should the path have become a named pipe since,
            # the open returns at once (and the fstat below refuses it)
            with open(path, "rb", opener=_open_nonblocking) as f:
                info = os.fstat(f.fileno())
                problem = self._kind_problem(info.st_mode)
                if problem:
                    refuse(problem)
                # read one byte more than allowed: a file may grow, and some
                # (under /proc) say they have a size of 0
                data = f.read(MAX_CONFIG_SIZE + 1)
        except PermissionError as exc:
            if path in self._default_paths:
                data = b""
            else:
                refuse(exc.strerror or exc)
        except IsADirectoryError:
            refuse("it is a directory")
        except OSError as exc:
            refuse(exc.strerror or str(exc))
        if len(data) > MAX_CONFIG_SIZE:
            refuse(f"it is larger than {MAX_CONFIG_SIZE >> 20} MiB")
        try:
            # utf-8-sig: a file saved with a byte-order mark (as some
            # editors do) would otherwise start with an unknown key
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            # the decoder counts from after the mark; the user, from the start
            skipped = len(codecs.BOM_UTF8) if data.startswith(
                codecs.BOM_UTF8) else 0
            self.error(f"configuration file {_shown(path, 1024)} is not UTF-8 text "
                       f"(byte {exc.start + skipped + 1} is not valid)")
        stream = io.StringIO(text)
        stream.name = path
        return stream

    @staticmethod
    def _kind_problem(mode):
        """Why a file of *mode* (``st_mode``) cannot be read, or None."""
        if stat.S_ISREG(mode):
            return None
        if stat.S_ISDIR(mode):
            return "it is a directory"
        kind = _FILE_KINDS.get(stat.S_IFMT(mode))
        return f"it is {kind}, not a regular file" if kind else \
            "it is not a regular file"

    def _source_file(self, option):
        """
        The configuration file the value of *option* (``--status-queue``)
        came from in the last parse, or None when it did not come from one.
        """
        key = option.lstrip(self.prefix_chars)
        getter = getattr(self, "get_source_to_settings_dict", None)
        if getter is not None:
            sources = getter()
        else:  # ConfigArgParse before 1.7 has no public accessor
            sources = getattr(self, "_source_to_settings", None) or {}
        for source, settings in sources.items():
            if source.startswith("config_file") and key in settings:
                return source.partition("|")[2] or "a configuration file"
        return None

    def error(self, message):
        """
        Say the error (see :func:`report_error`) and exit with
        :attr:`error_status`.
        """
        message = str(message)  # ConfigArgParse 1.5 passes an exception
        match = re.match(r"argument (--[\w-]+)(?:/[^:]*)?: (.*)", message,
                         re.S)
        if match:
            path = self._source_file(match.group(1))
            if path is not None:
                message = (f"{path}: {match.group(1).lstrip('-')}: "
                           f"{match.group(2)}")
        report_error(message, check=self.error_status == 3)
        raise SystemExit(self.error_status)


def make_parser(prog="piw-monitor"):
    """
    Return the argument parser of piw-monitor: the original monitor's
    options (``-h``, ``--version``, ``-c FILE``, ``--status-queue ADDR``,
    ``--control-queue ADDR``) and ``--demo``, reading the configuration files
    in :data:`CONFIG_FILES`.
    """
    parser = _Parser(
        prog=prog,
        description=DESCRIPTION,
        default_config_files=list(CONFIG_FILES))
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-c", "--configuration", metavar="FILE", default=None,
        is_config_file=True, help="Specify a configuration file to load")
    parser.add_argument(
        "--status-queue", metavar="ADDR", default=DEFAULT_STATUS_QUEUE,
        type=_address_type("status queue"),
        help="The address of the queue used to report status to monitors "
        "(default: %(default)s)")
    parser.add_argument(
        "--control-queue", metavar="ADDR", default=DEFAULT_CONTROL_QUEUE,
        type=_address_type("control queue"),
        help="The address of the queue a monitor can use to control the "
        "master (default: %(default)s)")
    parser.add_argument(
        "--demo", action="store_true",
        help="Run a simulated build farm (the demo master) in-process on "
        "private addresses and monitor it; no real master is needed")
    extra = parser.add_argument_group("beyond the original monitor")
    extra.add_argument(
        "--read-only", action="store_true",
        help="Watch only: open no control socket; the action keys and "
        "buttons say why they do nothing")
    extra.add_argument(
        "--ssh", metavar="[USER@]HOST[:PORT]", type=_destination,
        default=None,
        help="Monitor a master on another machine: run ssh (with your "
        "~/.ssh/config, agent and keys) to forward its queues, given as "
        "they are on that machine, to private sockets here; ssh is started "
        "again whenever it exits. With --read-only only the status queue "
        "is forwarded")
    extra.add_argument(
        "--max-frame-size", metavar="BYTES", type=_int_type(1024, 64 << 20),
        default=MAX_FRAME_SIZE,
        help="Drop the connection on a status frame larger than this, and "
        "reconnect (default: %(default)s)")
    extra.add_argument(
        "--demo-speed", metavar="X", type=_float_type(0.1, 100), default=1.0,
        help="With --demo: run the simulated farm X times faster "
        "(default: %(default)s)")
    resources = parser.add_argument_group(
        "resources (the colours of the slave list's resource columns, and "
        "when a slave is under pressure; also read from the configuration "
        "files)")
    for resource, what in (
            ("memory", "memory used, %%"), ("swap", "swap used, %%"),
            ("disk", "disk free, %%; falling"),
            ("load", "load average"), ("temp", "CPU temperature, \u00b0C")):
        default = ",".join(f"{v:g}" for v in DEFAULT_THRESHOLDS[resource])
        resources.add_argument(
            f"--{resource}-thresholds", metavar="C,W,C",
            type=_thresholds_type(resource),
            default=DEFAULT_THRESHOLDS[resource],
            help=f"The careful, warning and critical thresholds of {what} "
            f"(default: {default})")
    headless = parser.add_argument_group(
        "headless modes (no terminal; for scripts and monitoring systems)")
    headless.add_argument(
        "--json", action="store_true",
        help="Print one JSON object per change (NDJSON) until interrupted; "
        "with --once, one snapshot of the farm once the master's replay is "
        "complete")
    headless.add_argument(
        "--once", action="store_true",
        help="With --json: print one snapshot and exit")
    headless.add_argument(
        "--check", action="store_true",
        help="Probe the farm like a monitoring plugin: one line, exit 0 OK, "
        "1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    headless.add_argument(
        "--timeout", metavar="SECONDS", type=_float_type(0.1, 86400),
        default=None,
        help="How long --once and --check wait for the master (default: "
        f"{DEFAULT_TIMEOUT:g}), and how long --json runs (default: until "
        "interrupted)")
    headless.add_argument(
        "--warn-silent", metavar="N", type=_int_type(1, 1 << 30), default=1,
        help="--check: WARNING from this many silent slaves "
        "(default: %(default)s)")
    headless.add_argument(
        "--crit-silent", metavar="N", type=_int_type(1, 1 << 30), default=3,
        help="--check: CRITICAL from this many silent slaves "
        "(default: %(default)s)")
    headless.add_argument(
        "--warn-disk", metavar="PCT", type=_float_type(0, 100), default=20.0,
        help="--check: WARNING when the master's free disk is at most this "
        "percentage (default: %(default)s)")
    headless.add_argument(
        "--crit-disk", metavar="PCT", type=_float_type(0, 100), default=10.0,
        help="--check: CRITICAL when the master's free disk is at most this "
        "percentage (default: %(default)s)")
    for kind in ("memory", "disk"):
        for level, default in (("warn", 1), ("crit", 3)):
            headless.add_argument(
                f"--{level}-{kind}-pressure", metavar="N",
                type=_int_type(1, 1 << 30), default=default,
                help=f"--check: {'WARNING' if level == 'warn' else 'CRITICAL'}"
                f" from this many slaves under {kind} pressure "
                "(default: %(default)s)")
    return parser


def _thresholds_type(resource):
    """An argparse ``type=`` for three thresholds of *resource*."""
    def convert(value):
        try:
            return parse_thresholds(value, resource)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"invalid thresholds {_shown(str(value))}: {exc}") from None
    convert.__name__ = f"{resource}_thresholds"
    return convert


def thresholds(args):
    """The :class:`~piw_monitor.pressure.Thresholds` that *args* set."""
    return Thresholds(**{
        resource: getattr(args, f"{resource}_thresholds",
                          DEFAULT_THRESHOLDS[resource])
        for resource in DEFAULT_THRESHOLDS})


#: How long --once and --check wait for the master's replay by default.
DEFAULT_TIMEOUT = 10.0


def _int_type(lo, hi):
    """An argparse ``type=`` for a whole number from *lo* to *hi*."""
    def convert(value):
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a whole number") from None
        if not lo <= number <= hi:
            raise argparse.ArgumentTypeError(
                f"{number} is not between {lo} and {hi}")
        return number
    convert.__name__ = "number"
    return convert


def _float_type(lo, hi):
    """An argparse ``type=`` for a number from *lo* to *hi*."""
    def convert(value):
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a number") from None
        if not lo <= number <= hi:  # also rejects NaN
            raise argparse.ArgumentTypeError(
                f"{value} is not between {lo:g} and {hi:g}")
        return number
    convert.__name__ = "number"
    return convert


def _check_combination(parser, args):
    if args.once and not args.json:
        parser.error("--once goes with --json")
    if args.check and args.json:
        parser.error("--check and --json cannot be used together")
    if args.read_only and (args.once or args.check):
        parser.error("--read-only cannot ask the master for the replay that "
                     "--once and --check need")
    if args.ssh is not None:
        from .tunnel import remote_target
        if args.demo:
            parser.error("--ssh and --demo cannot be used together (the demo "
                         "runs in the monitor's own process)")
        queues = [("--status-queue", args.status_queue)]
        if not args.read_only:
            queues.append(("--control-queue", args.control_queue))
        for option, address in queues:
            try:
                remote_target(address)
            except ValueError as exc:
                parser.error(f"argument {option}: with --ssh: {exc}")
    if args.crit_silent < args.warn_silent:
        parser.error("--crit-silent must not be below --warn-silent")
    if args.crit_disk > args.warn_disk:
        parser.error("--crit-disk must not be above --warn-disk")
    for kind in ("memory", "disk"):
        if getattr(args, f"crit_{kind}_pressure") < \
                getattr(args, f"warn_{kind}_pressure"):
            parser.error(f"--crit-{kind}-pressure must not be below "
                         f"--warn-{kind}-pressure")


def _means_check(arg):
    """True if command-line word *arg* is ``--check`` (or short for it)."""
    arg = str(arg).partition("=")[0]  # --check=yes is a mistake, but ours
    return arg.startswith("--ch") and "--check".startswith(arg)


def parse_args(argv=None):
    """
    Parse the command line *argv* (``sys.argv[1:]`` when None) together with
    the configuration files, and return the :class:`argparse.Namespace`
    (``status_queue``, ``control_queue``, ``demo``, ``configuration``,
    ``ssh`` (None or the destination), ...).

    ``--help`` and ``--version`` print and exit with status 0. Any mistake
    prints one line, ``piw-monitor: error: ...``, on stderr and raises
    ``SystemExit(2)``; ``SystemExit(3)`` with ``--check``, whose UNKNOWN
    status a monitoring system expects for a probe that could not run
    (then ``UNKNOWN - ...`` is printed on stdout too: see
    :func:`report_error`).
    """
    if argv is None:
        argv = sys.argv[1:]
    parser = make_parser()
    if any(_means_check(arg) for arg in argv):
        parser.error_status = 3
    try:
        args = parser.parse_args(list(argv))
    except configargparse.ConfigFileParserException as exc:
        parser.error(str(exc))
    _check_combination(parser, args)
    return args

