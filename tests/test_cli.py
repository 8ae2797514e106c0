"""
The command line and the configuration files.

Exit statuses and messages are checked on the real program, run as
``python -m piw_monitor`` in a subprocess with ``HOME`` pointing at a
temporary directory (so ``~/.config/piwheels/piwheels.conf`` is under the
test's control). None of these runs reaches the console: each one ends in
argument parsing. The values a configuration produces are checked in-process
with :func:`piw_monitor.cli.parse_args`, with the list of default files
pointed at temporary files.

Tests run as root here, so a file cannot be made unreadable by its mode; a
directory in place of the file (and a file that is not UTF-8 text) stands in
for "unreadable".
"""

import os
import re
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from piw_monitor import __version__, cli

ROOT = Path(__file__).resolve().parents[1]

#: System-wide configuration files present on this machine. The program
#: reads them too; the subprocess tests whose outcome they could change are
#: skipped when there are any, rather than giving a misleading result.
SYSTEM_FILES = [f for f in cli.CONFIG_FILES[:2] if os.path.exists(f)]

needs_no_system_config = pytest.mark.skipif(
    bool(SYSTEM_FILES),
    reason=f"system configuration present: {', '.join(SYSTEM_FILES)}")


def _limit_memory():
    # a program that reads a file without end must fail, not take the
    # machine's memory with it
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run(args, home, cwd=None, timeout=60):
    """
    Run ``python -m piw_monitor *args*`` with HOME=*home*; no stdin, at most
    1 GiB of address space, *timeout* seconds.
    """
    env = dict(os.environ)
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.pop("PIW_MONITOR_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "piw_monitor", *args],
        cwd=cwd or home, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
        preexec_fn=_limit_memory)


def one_error_line(result, status=2):
    """
    Check *result* failed the way a usage error must; return its line. A
    probe's (status 3, UNKNOWN) also says it on standard output, the line
    a monitoring system reads.
    """
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("piw-monitor: error: "), lines[0]
    reason = lines[0][len("piw-monitor: error: "):]
    assert result.stdout == (f"UNKNOWN - {reason}\n" if status == 3 else "")
    return lines[0]


def home_config(home, text, mode="w"):
    """Write *text* to ``~/.config/piwheels/piwheels.conf`` under *home*."""
    path = Path(home) / ".config" / "piwheels" / "piwheels.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------ the real program

def test_help_matches_the_manual(tmp_path):
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    assert result.stderr == ""
    text = " ".join(result.stdout.split())
    assert text.startswith(
        "usage: piw-monitor [-h] [--version] [-c FILE] [--status-queue ADDR] "
        "[--control-queue ADDR] [--demo]")
    for expected in [
        "-h, --help show this help message and exit",
        "--version show program's version number and exit",
        "-c FILE, --configuration FILE Specify a configuration file to load",
        "--status-queue ADDR The address of the queue used to report status "
        "to monitors (default: ipc:///tmp/piw-status)",
        "--control-queue ADDR The address of the queue a monitor can use to "
        "control the master (default: ipc:///tmp/piw-control)",
        "--demo Run a simulated build farm",
        "The piw-monitor application is used to monitor (and optionally "
        "control) the piw-master script.",
    ]:
        # argparse may hyphenate "in-process" across a line break
        assert expected in text.replace("in- process", "in-process"), expected


def test_help_ignores_a_broken_configuration(tmp_path):
    home_config(tmp_path, "= nonsense\n")
    result = run(["-h"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: piw-monitor ")


@needs_no_system_config
def test_version(tmp_path):
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"piw-monitor {__version__}\n"


@needs_no_system_config
@pytest.mark.parametrize("args, words", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["extra"], "unrecognized arguments: extra"),
    (["--status-queue"], "argument --status-queue: expected one argument"),
    (["-c"], "argument -c/--configuration: expected one argument"),
])
def test_bad_option(tmp_path, args, words):
    assert words in one_error_line(run(args, tmp_path))


@needs_no_system_config
@pytest.mark.parametrize("option, value, reason", [
    ("--status-queue", "tcp://master", "no port"),
    ("--status-queue", "tcp://master:0", "not between 1 and 65535"),
    ("--status-queue", "tcp://master:70000", "not between 1 and 65535"),
    ("--status-queue", "tcp://*:5555", "'*' (every interface) is for binding"),
    ("--control-queue", "/tmp/piw-control", "expected TRANSPORT://ENDPOINT"),
    ("--control-queue", "udp://master:5555", "unsupported transport 'udp'"),
    ("--control-queue", "ipc://", "no path"),
])
def test_bad_address_on_the_command_line(tmp_path, option, value, reason):
    line = one_error_line(run([option, value], tmp_path))
    what = option[2:].replace("-", " ")
    assert f"argument {option}: invalid {what} address '{value}'" in line
    assert reason in line


@needs_no_system_config
def test_control_characters_are_not_echoed(tmp_path):
    line = one_error_line(
        run(["--status-queue", "ipc://\x1b]0;owned\x07/x"], tmp_path))
    assert "\x1b" not in line and "\x07" not in line
    assert "\\x1b" in line
    assert "control or unprintable characters" in line


@needs_no_system_config
def test_missing_configuration_file(tmp_path):
    missing = tmp_path / "missing.conf"
    line = one_error_line(run(["-c", str(missing)], tmp_path))
    assert f"cannot read configuration file '{missing}'" in line
    assert "No such file or directory" in line


@needs_no_system_config
def test_unreadable_configuration_file(tmp_path):
    # as root no mode makes a file unreadable; a directory cannot be read
    folder = tmp_path / "piwheels.conf"
    folder.mkdir()
    line = one_error_line(run(["--configuration", str(folder)], tmp_path))
    assert f"cannot read configuration file '{folder}': it is a directory" in line


@needs_no_system_config
def test_unreadable_default_configuration_file(tmp_path):
    folder = tmp_path / ".config" / "piwheels" / "piwheels.conf"
    folder.mkdir(parents=True)
    line = one_error_line(run([], tmp_path))
    assert f"cannot read configuration file '{folder}': it is a directory" in line


@needs_no_system_config
def test_configuration_file_not_text(tmp_path):
    path = tmp_path / "binary.conf"
    path.write_bytes(b"status-queue = ipc:///tmp/s\n\x89PNG\xff\xfe\n")
    line = one_error_line(run(["-c", str(path)], tmp_path))
    assert f"configuration file '{path}' is not UTF-8 text" in line


@needs_no_system_config
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_without_end_is_refused(tmp_path, device):
    # read whole, these fill the memory; refused before a byte is read
    line = one_error_line(run(["-c", device], tmp_path, timeout=30))
    assert line == (f"piw-monitor: error: cannot read configuration file "
                    f"'{device}': it is a character device, not a regular "
                    "file")


@needs_no_system_config
@pytest.mark.parametrize("which", ["given", "home"])
def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path, which):
    # opening a FIFO for reading waits for a writer, for ever
    if which == "home":
        path = tmp_path / ".config" / "piwheels" / "piwheels.conf"
        path.parent.mkdir(parents=True)
        args = []
    else:
        path = tmp_path / "fifo.conf"
        args = ["-c", str(path)]
    os.mkfifo(path)
    line = one_error_line(run(args, tmp_path, timeout=30))
    assert line == (f"piw-monitor: error: cannot read configuration file "
                    f"'{path}': it is a named pipe (FIFO), not a regular file")


@needs_no_system_config
def test_a_huge_configuration_file_is_refused(tmp_path):
    path = tmp_path / "huge.conf"
    with open(path, "wb") as f:   # sparse: costs no disk
        f.truncate(4 << 30)
    line = one_error_line(run(["-c", str(path)], tmp_path, timeout=30))
    assert line == (f"piw-monitor: error: cannot read configuration file "
                    f"'{path}': it is larger than 1 MiB")


@needs_no_system_config
def test_malformed_configuration_file(tmp_path):
    path = home_config(tmp_path, "# piwheels\n[master]\ndsn = x\n= orphan value\n")
    line = one_error_line(run([], tmp_path))
    assert f"{path}, line 4: cannot understand '= orphan value'" in line


@needs_no_system_config
def test_bad_address_in_the_home_file(tmp_path):
    path = home_config(tmp_path, "[master]\nstatus-queue = tcp://master\n")
    line = one_error_line(run([], tmp_path))
    assert line == (
        f"piw-monitor: error: {path}: status-queue: invalid status queue "
        "address 'tcp://master': no port (expected tcp://HOST:PORT)")


@needs_no_system_config
def test_bad_address_in_a_given_file(tmp_path):
    path = tmp_path / "monitor.conf"
    path.write_text("control-queue: pgm://eth0;239.192.1.1:5555\n")
    line = one_error_line(run(["-c", str(path)], tmp_path))
    assert line.startswith(f"piw-monitor: error: {path}: control-queue: ")
    assert "unsupported transport 'pgm'" in line


# ---------------------------------------------- values, in this process

@pytest.fixture
def files(tmp_path, monkeypatch):
    """
    Point the default configuration files at *tmp_path*: the first two
    system-wide files become ``etc.conf`` and ``usr-local.conf`` there, and
    ``~`` (HOME) becomes *tmp_path*. Returns a dict of the three paths.
    """
    paths = {
        "etc": tmp_path / "etc.conf",
        "usr-local": tmp_path / "usr-local.conf",
        "home": tmp_path / ".config" / "piwheels" / "piwheels.conf",
    }
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(cli, "CONFIG_FILES", [
        str(paths["etc"]), str(paths["usr-local"]),
        "~/.config/piwheels/piwheels.conf"])
    paths["home"].parent.mkdir(parents=True)
    return paths


def test_defaults(files):
    args = cli.parse_args([])
    assert args.status_queue == "ipc:///tmp/piw-status"
    assert args.control_queue == "ipc:///tmp/piw-control"
    assert args.demo is False
    assert args.configuration is None


def test_demo_flag(files):
    assert cli.parse_args(["--demo"]).demo is True


def test_home_file_is_honoured(files):
    files["home"].write_text(
        "[master]\nstatus-queue = ipc:///srv/piw-status\n"
        "control-queue = tcp://master.example.org:5557\n")
    args = cli.parse_args([])
    assert args.status_queue == "ipc:///srv/piw-status"
    assert args.control_queue == "tcp://master.example.org:5557"


def test_the_real_default_list_includes_the_home_file():
    assert cli.CONFIG_FILES == [
        "/etc/piwheels.conf", "/usr/local/etc/piwheels.conf",
        "~/.config/piwheels/piwheels.conf"]


def test_given_file_is_honoured(files, tmp_path):
    path = tmp_path / "other.conf"
    path.write_text("status-queue = ipc:///tmp/other-status\n")
    args = cli.parse_args(["-c", str(path)])
    assert args.status_queue == "ipc:///tmp/other-status"
    assert args.control_queue == "ipc:///tmp/piw-control"
    assert args.configuration == str(path)


def test_precedence(files, tmp_path):
    # each source sets the status queue; the control queue only up to a point
    files["etc"].write_text(
        "status-queue = ipc:///etc-s\ncontrol-queue = ipc:///etc-c\n")
    assert cli.parse_args([]).status_queue == "ipc:///etc-s"
    files["usr-local"].write_text("status-queue = ipc:///usr-s\n")
    args = cli.parse_args([])
    assert (args.status_queue, args.control_queue) == (
        "ipc:///usr-s", "ipc:///etc-c")
    files["home"].write_text("status-queue = ipc:///home-s\n")
    assert cli.parse_args([]).status_queue == "ipc:///home-s"
    given = tmp_path / "given.conf"
    given.write_text("status-queue = ipc:///given-s\n")
    assert cli.parse_args(["-c", str(given)]).status_queue == "ipc:///given-s"
    args = cli.parse_args(["-c", str(given), "--status-queue", "ipc:///cli-s"])
    assert (args.status_queue, args.control_queue) == (
        "ipc:///cli-s", "ipc:///etc-c")


def test_command_line_beats_a_bad_file_value(files):
    files["home"].write_text("status-queue = not an address\n")
    args = cli.parse_args(["--status-queue", "ipc:///tmp/good"])
    assert args.status_queue == "ipc:///tmp/good"


def test_foreign_keys_are_ignored(files, capsys):
    files["etc"].write_text(
        "# a piwheels.conf shared by every tool\n"
        "[master]\n"
        "dsn = postgresql://piwheels@localhost/piwheels\n"
        "output-path = /var/www/piwheels\n"
        "pypi-xmlrpc = https://pypi.org/pypi\n"
        "slave-queue = tcp://*:5555\n"
        "dev-mode\n"
        "help = true\n"
        "version\n"
        "demo = true\n"
        "configuration = /nonexistent.conf\n"
        "read-only = true\n"
        "max-frame-size = 1\n"
        "json = true\n"
        "[slave]\n"
        "master = 10.0.0.1\n"
        "--status-queue ipc:///tmp/from-etc\n")
    args = cli.parse_args([])
    assert args.demo is False
    assert args.configuration is None
    assert args.read_only is False and args.json is False
    assert args.max_frame_size == cli.make_parser().get_default(
        "max_frame_size")
    assert args.status_queue == "ipc:///tmp/from-etc"
    out, err = capsys.readouterr()
    assert out == err == ""


def test_sections_do_not_scope_keys(files):
    # as in piwheels itself, [section] lines are ignored: a key counts
    # wherever it is, so the master and the monitor agree on every address
    files["home"].write_text("[slave]\ncontrol-queue = ipc:///tmp/c\n")
    assert cli.parse_args([]).control_queue == "ipc:///tmp/c"


@pytest.mark.parametrize("line", [
    "status-queue = ipc:///tmp/x",
    "status-queue=ipc:///tmp/x",
    "status-queue: ipc:///tmp/x",
    "status-queue ipc:///tmp/x",
    "  status-queue = 'ipc:///tmp/x'   # where the master publishes",
    'status-queue = "ipc:///tmp/x" ; a comment',
])
def test_file_syntax(files, line):
    files["home"].write_text(f"; comment\n---\n\n{line}\n")
    assert cli.parse_args([]).status_queue == "ipc:///tmp/x"


@pytest.fixture
def forbidden(monkeypatch):
    """
    Make the files whose paths are added to the returned set unreadable for
    piw_monitor.cli, as a mode of 0600 owned by someone else would (the tests
    run as root, for whom no mode forbids reading).
    """
    paths = set()

    def fake_open(path, *args, **kwargs):
        if str(path) in paths:
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(cli, "open", fake_open, raising=False)
    return paths


def test_unreadable_default_file_is_skipped(files, forbidden, capsys):
    # a master's /etc/piwheels.conf is often readable by its own user only
    files["etc"].write_text("dsn = postgresql://piwheels:secret@db/piwheels\n"
                            "status-queue = ipc:///tmp/etc-s\n")
    files["home"].write_text("control-queue = ipc:///tmp/home-c\n")
    forbidden.add(str(files["etc"]))
    args = cli.parse_args([])
    assert args.status_queue == "ipc:///tmp/piw-status"
    assert args.control_queue == "ipc:///tmp/home-c"
    assert capsys.readouterr() == ("", "")


def test_unreadable_given_file_is_an_error(files, forbidden, tmp_path, capsys):
    path = tmp_path / "private.conf"
    path.write_text("status-queue = ipc:///tmp/x\n")
    forbidden.add(str(path))
    with pytest.raises(SystemExit) as info:
        cli.parse_args(["-c", str(path)])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        f"piw-monitor: error: cannot read configuration file '{path}': "
        "Permission denied\n")


def test_errors_are_one_line_in_process(files, capsys):
    files["home"].write_text("ok = 1\n:bad\n")
    with pytest.raises(SystemExit) as info:
        cli.parse_args([])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"piw-monitor: error: {files['home']}, line 2: "
                   "cannot understand ':bad' (expected 'key = value')\n")


@pytest.mark.parametrize("line, says", [
    ("status-queue = [ipc:///a, ipc:///b]",
     "status-queue: one address expected, not a list"),
    ("control-queue", "control-queue: no value (expected 'control-queue = "
                      "ADDRESS')"),
    ("control-queue =", "control-queue: no value (expected 'control-queue "
                        "= ADDRESS')"),
])
def test_our_keys_want_one_address(files, capsys, line, says):
    # other tools' keys may be lists or bare words: only ours are judged
    files["home"].write_text(f"output-path = [a, b]\nlegacy\n{line}\n")
    with pytest.raises(SystemExit) as info:
        cli.parse_args([])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        f"piw-monitor: error: {files['home']}, line 3: {says}\n")


def test_the_size_limit(files, capsys, tmp_path):
    # a file of exactly the limit is read; one byte more is refused
    path = tmp_path / "big.conf"
    line = b"status-queue = ipc:///tmp/big\n"
    path.write_bytes(line + b"#" * (cli.MAX_CONFIG_SIZE - len(line) - 1)
                     + b"\n")
    assert cli.parse_args(["-c", str(path)]).status_queue == "ipc:///tmp/big"
    with open(path, "ab") as f:
        f.write(b"\n")
    with pytest.raises(SystemExit) as info:
        cli.parse_args(["-c", str(path)])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        f"piw-monitor: error: cannot read configuration file '{path}': "
        "it is larger than 1 MiB\n")


def test_a_socket_is_refused(files, capsys, tmp_path):
    path = tmp_path / "sock.conf"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(SystemExit) as info:
            cli.parse_args(["-c", str(path)])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        f"piw-monitor: error: cannot read configuration file '{path}': "
        "it is a socket, not a regular file\n")


BOM = b"\xef\xbb\xbf"


def test_a_file_with_a_byte_order_mark_is_honoured(files, tmp_path):
    # Windows editors save UTF-8 with a byte-order mark: the first key must
    # still count (it was read as "\ufeffstatus-queue", an unknown key)
    files["home"].write_bytes(BOM + b"status-queue = ipc:///tmp/bom-home\n")
    given = tmp_path / "given.conf"
    given.write_bytes(BOM + b"control-queue = ipc:///tmp/bom-given\n")
    args = cli.parse_args(["-c", str(given)])
    assert args.status_queue == "ipc:///tmp/bom-home"
    assert args.control_queue == "ipc:///tmp/bom-given"


def test_a_byte_order_mark_keeps_byte_numbers(files, capsys):
    files["home"].write_bytes(BOM + b"ok = 1\n\xff\n")
    with pytest.raises(SystemExit):
        cli.parse_args([])
    assert capsys.readouterr().err == (
        f"piw-monitor: error: configuration file '{files['home']}' is not "
        "UTF-8 text (byte 11 is not valid)\n")


def test_a_byte_order_mark_keeps_line_numbers(files, capsys):
    files["home"].write_bytes(BOM + b":bad\n")
    with pytest.raises(SystemExit):
        cli.parse_args([])
    assert capsys.readouterr().err == (
        f"piw-monitor: error: {files['home']}, line 1: "
        "cannot understand ':bad' (expected 'key = value')\n")


def test_a_key_we_ignore_is_not_judged(files, capsys):
    # status_queue is not status-queue: configargparse ignores it, so a
    # list or a bare word there must not stop the program either
    files["home"].write_text("status_queue = [a, b]\ncontrol_queue\n")
    args = cli.parse_args([])
    assert args.status_queue == "ipc:///tmp/piw-status"
    assert capsys.readouterr().err == ""


def test_make_parser_prog():
    assert cli.make_parser(prog="piw-x").format_usage().startswith(
        "usage: piw-x [-h] [--version] [-c FILE]")


# ------------------------------------------------------- check_address

VALID = [
    "ipc:///tmp/piw-status",
    "ipc://relative/path",
    "ipc://@abstract-name",
    "ipc:///tmp/" + "x" * (107 - len("/tmp/")),
    "tcp://localhost:5555",
    "tcp://master.example.org:1",
    "tcp://master.example.org.:5555",
    "tcp://build_master:65535",
    "tcp://127.0.0.1:5556",
    "tcp://[::1]:5555",
    "tcp://[fe80::1%eth0]:5555",
]

INVALID = [
    (None, "not a string"),
    ("", "it is empty"),
    (" ipc:///tmp/x", "white space"),
    ("ipc:///tmp/x\n", "white space"),
    ("ipc:///tmp/\x00x", "control or unprintable"),
    ("/tmp/piw-status", "expected TRANSPORT://ENDPOINT"),
    ("ipc:/tmp/piw-status", "expected TRANSPORT://ENDPOINT"),
    ("TCP://master:5555", "unsupported transport 'TCP'"),
    ("ws://master:80", "unsupported transport 'ws'"),
    ("ipc://", "no path"),
    ("ipc:///tmp/" + "x" * (108 - len("/tmp/")), "longer than the 107 bytes"),
    ("tcp://", "no host and port"),
    ("tcp://master", "no port"),
    ("tcp://master:", "no port"),
    ("tcp://:5555", "no host"),
    ("tcp://master:http", "the port 'http' is not a number"),
    ("tcp://master:-1", "is not a number"),
    ("tcp://master:0", "the port 0 is not between 1 and 65535"),
    ("tcp://master:65536", "the port 65536 is not between 1 and 65535"),
    ("tcp://::1:5555", "put an IPv6 address in brackets"),
    ("tcp://[::1]", "no port"),
    ("tcp://[::1:5555", "needs a closing ']'"),
    ("tcp://[::g]:5555", "'::g' is not an IPv6 address"),
    ("tcp://[10.0.0.1]:5555", "is not an IPv6 address"),
    ("tcp://256.0.0.1:5555", "'256.0.0.1' is not an IPv4 address"),
    ("tcp://1.2.3:5555", "'1.2.3' is not an IPv4 address"),
    ("tcp://-master:5555", "'-master' is not a valid host name"),
    ("tcp://a..b:5555", "'a..b' is not a valid host name"),
    ("tcp://mast er:5555", "is not a valid host name"),
    ("tcp://" + "a" * 64 + ":5555", "is not a valid host name"),
    ("tcp://" + ".".join(["a" * 60] * 5) + ":5555", "longer than 253"),
    ("tcp://eth0;10.0.0.1:5555", "source address"),
    ("inproc://", "only sockets in the same process"),
    ("inproc://piw-status", "only sockets in the same process"),
]


@pytest.mark.parametrize("address", VALID)
def test_valid_addresses(address):
    assert cli.check_address(address, "status queue") == address
    assert cli.check_address(address, "status queue", connect=True) == address


@pytest.mark.parametrize("address, reason", INVALID)
def test_invalid_addresses(address, reason):
    with pytest.raises(ValueError) as info:
        cli.check_address(address, "control queue")
    message = str(info.value)
    assert message.startswith("invalid control queue address ")
    assert reason in message
    assert message.isprintable()


def test_star_is_for_binding_only():
    assert cli.check_address("tcp://*:5555", "status queue") == "tcp://*:5555"
    with pytest.raises(ValueError, match="is for binding"):
        cli.check_address("tcp://*:5555", "status queue", connect=True)


def test_long_values_are_cut_in_messages():
    with pytest.raises(ValueError) as info:
        cli.check_address("x" * 5000, "status queue")
    assert len(str(info.value)) < 300


def _zmq_connects(address):
    """Whether a 0MQ PUSH socket accepts to connect to *address*."""
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.PUSH)
        sock.linger = 0
        sock.ipv6 = True
        try:
            sock.connect(address)
            return True
        except zmq.ZMQError:
            return False
    finally:
        ctx.destroy(linger=0)


@pytest.mark.parametrize("address", VALID)
def test_what_is_accepted_zmq_can_connect_to(address):
    assert _zmq_connects(address)


@pytest.mark.parametrize("address", [
    "tcp://*:5555", "ipc://", "inproc://", "tcp://master", "ws://master:80",
    "TCP://master:5555", "tcp://master:http", "/tmp/piw-status",
    "ipc:///tmp/" + "x" * 103,
])
def test_zmq_refuses_what_is_refused(address):
    # a sample of the refused addresses that 0MQ itself would refuse at
    # connect time: the check reports them before the console starts
    with pytest.raises(ValueError):
        cli.check_address(address, "status queue", connect=True)
    assert not _zmq_connects(address)


def test_error_messages_name_no_internal_modules():
    # what a user reads must not mention argparse or configargparse
    with pytest.raises(ValueError) as info:
        cli.check_address("tcp://x", "status queue")
    assert not re.search(r"argparse|Traceback", str(info.value))


@needs_no_system_config
@pytest.mark.parametrize("args", [["--read-only", "--once", "--json"],
                                  ["--read-only", "--check"]])
def test_read_only_refuses_modes_that_need_a_replay(tmp_path, args):
    status = 3 if "--check" in args else 2
    assert "--read-only cannot ask the master" in one_error_line(
        run(args, tmp_path), status)


@needs_no_system_config
@pytest.mark.parametrize("args, says", [
    (["--check", "--bogus"], "unrecognized arguments: --bogus"),
    (["--check", "-c", "missing.conf"], "cannot read configuration file"),
    (["--check", "--warn-disk", "x"], "--warn-disk"),
    (["--chec", "--timeout", "-1"], "--timeout"),
    (["--check=yes"], "ignored explicit argument"),
])
def test_a_probe_that_cannot_run_is_unknown_not_critical(tmp_path, args,
                                                         says):
    # a monitoring system reads exit 2 as CRITICAL: a mistake in the probe's
    # own command line or configuration is UNKNOWN (3), one line as always
    assert says in one_error_line(run(args, tmp_path), status=3)


@needs_no_system_config
def test_the_console_needs_a_terminal(tmp_path):
    # stdin is /dev/null and stdout a pipe: one line, exit 2, no escape
    # sequences written to the pipe
    line = one_error_line(run([], tmp_path))
    assert "needs a terminal" in line and "--json or --check" in line


# ------------------------------------------------------------ --ssh

@needs_no_system_config
@pytest.mark.parametrize("args, words", [
    (["--ssh=-oProxyCommand=touch /tmp/x"], "invalid SSH destination"),
    (["--ssh", "pi@master:70000"], "not between 1 and 65535"),
    (["--ssh", "master", "--demo"], "--ssh and --demo cannot be used"),
    (["--ssh", "master", "--status-queue", "ipc://@piw"], "abstract socket"),
    (["--ssh", "master", "--control-queue", "ipc:///a:b"], "holding ':'"),
])
def test_bad_ssh_use(tmp_path, args, words):
    line = one_error_line(run(args, tmp_path))
    assert words in line


@needs_no_system_config
def test_ssh_from_a_file_and_read_only_skips_the_control_queue(
        tmp_path, monkeypatch):
    home_config(tmp_path, "[monitor]\nssh = pi@master:2222\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    args = cli.parse_args([])
    assert args.ssh == "pi@master:2222"
    # with --read-only the control queue is not forwarded: not checked
    args = cli.parse_args(["--read-only", "--control-queue", "ipc:///a:b"])
    assert args.ssh == "pi@master:2222" and args.read_only
    path = home_config(tmp_path, "ssh =\n")
    line = one_error_line(run([], tmp_path))
    assert line == (f"piw-monitor: error: {path}, line 1: ssh: no value "
                    "(expected 'ssh = [USER@]HOST[:PORT]')")


def test_an_error_is_one_line_and_a_probes_also_unknown_on_stdout(capsys):
    # the app's own errors (a demo, a tunnel or sockets that cannot start)
    # are said the same way as the parser's
    cli.report_error("the sockets\ncould not be set up\x1b[2J")
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "piw-monitor: error: the sockets could not be set up\\x1b[2J\n"
    cli.report_error(ValueError("no such host"), check=True)
    out, err = capsys.readouterr()
    assert out == "UNKNOWN - no such host\n"
    assert err == "piw-monitor: error: no such host\n"


@pytest.mark.parametrize("stdout", ["closed", "full"])
def test_a_probe_that_cannot_even_write_its_unknown_line(tmp_path, stdout):
    # stdout closed or a full disk: the error line on stderr and exit 3
    # all the same, never a traceback (which would exit 1: WARNING)
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    redirect = ">&-" if stdout == "closed" else ">/dev/full"
    if stdout == "full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    result = subprocess.run(
        f"'{sys.executable}' -m piw_monitor --check --json {redirect}",
        shell=True, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stderr == (
        "piw-monitor: error: --check and --json cannot be used together\n")


def test_a_probe_that_crashes_is_unknown(tmp_path, monkeypatch, capsys):
    # an unexpected error before the probe runs: the crash line and its log
    # as ever, and UNKNOWN (3) rather than 1, which reads as WARNING
    from piw_monitor import app, link

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(link.MasterLink, "open", broken)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    status = app.main(["--check", "--status-queue", f"ipc://{tmp_path}/s",
                       "--control-queue", f"ipc://{tmp_path}/c"])
    out, err = capsys.readouterr()
    assert status == 3
    assert out == "UNKNOWN - probe failed: unexpected error (RuntimeError)\n"
    assert err.startswith("piw-monitor: unexpected error: RuntimeError: boom")
    assert list((tmp_path / "piw-monitor").glob("crash-*.log"))
