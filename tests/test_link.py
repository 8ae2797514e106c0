"""
The master link over real 0MQ ipc sockets, against a fake master made of
plain sockets (an XPUB, so the test can see when a subscription is live, and
a PULL), bound in a temporary directory.

The link is driven as the UI drives it: wake on ``select()`` of its file
descriptors, then drain. A ``select`` that times out while something is
still expected counts as a stall: with edge-triggered descriptors that is
how stranded frames show.
"""

import datetime as dt
import select
import threading
import time

import cbor2
import pytest
import zmq

from piw_monitor import link as link_module
from piw_monitor import protocol as p
from piw_monitor.link import FLUSH_LINGER, LinkError, MasterLink
from piw_monitor.protocol import NotSent

from .helpers import wait_for

pytestmark = pytest.mark.timeout(30)

HELLO = p.hello()


def now():
    return dt.datetime.now(dt.timezone.utc)


class Clock:
    """A clock for the link that moves only when told to."""

    def __init__(self):
        self.time = now()

    def __call__(self):
        return self.time

    def advance(self, seconds):
        self.time += dt.timedelta(seconds=seconds)
        return self.time


def numbered(n, start=0):
    """*n* small valid status frames; the slave id numbers them."""
    ts = now().replace(microsecond=0)
    return [p.encode_status(p.SlaveSleep(i, ts, False))
            for i in range(start, start + n)]


def master_hello():
    return p.encode_status(p.MasterHello(
        now(), "fake", "Linux", "6.1", "unknown", "unknown"))


def numbers(events):
    return [e.slave_id for e in events if isinstance(e, p.SlaveSleep)]


class FakeMaster:
    """A master's two queues, bound: XPUB for status, PULL for control."""

    def __init__(self, ctx, status, control, sndhwm=0):
        self.ctx = ctx
        self.status, self.control = status, control
        self.sndhwm = sndhwm
        self.pub = self.pull = None
        self.bind()

    def bind(self):
        self.pub = self.ctx.socket(zmq.XPUB)
        self.pub.linger = 0
        # by default unlimited: a burst is not dropped by the master itself
        self.pub.sndhwm = self.sndhwm
        # every subscription, even one the PUB has already, is shown
        self.pub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.pub.bind(self.status)
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.linger = 0
        self.pull.bind(self.control)

    def close(self):
        for sock in (self.pub, self.pull):
            if sock is not None:
                sock.close(linger=0)
        self.pub = self.pull = None

    def recv(self, timeout=5.0):
        """The next control frame, or an AssertionError after *timeout*."""
        if not self.pull.poll(timeout * 1000):
            raise AssertionError("the master received nothing")
        return self.pull.recv(zmq.NOBLOCK)

    def received(self):
        """Control frames waiting, without waiting."""
        frames = []
        while self.pull.poll(0):
            frames.append(self.pull.recv(zmq.NOBLOCK))
        return frames

    def wait_subscribed(self, timeout=5.0):
        """Wait until a subscription is live at the PUB."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pub.poll(50) and self.pub.recv(zmq.NOBLOCK) == b"\x01":
                return
        raise AssertionError("no subscription reached the master")

    def publish(self, frames):
        for frame in frames:
            if isinstance(frame, list):
                self.pub.send_multipart(frame)
            else:
                self.pub.send(frame)

    def publish_paced(self, frames, chunk=250):
        """
        Publish *frames* a chunk at a time, slowly enough for 0MQ to move
        them on to the monitor's side, as long as the monitor accepts them.
        (This paces a producer; it waits for nothing.)
        """
        for i in range(0, len(frames), chunk):
            self.publish(frames[i:i + chunk])
            time.sleep(0.002)


class Driver:
    """Runs a link the way the UI does, and records what it returns."""

    def __init__(self, link):
        self.link = link
        self.events = []
        self.stalls = 0
        self.wakeups = 0
        self.batches = []

    def run(self, until, timeout=10.0, limit=None, tick=False,
            select_timeout=1.0):
        """
        Wake on select() of the link's descriptors (or its pending flag)
        and drain, until *until(self)* is true. With *tick*, call tick()
        at every wake-up as the UI's timer would.
        """
        deadline = time.monotonic() + timeout
        while not until(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out; {len(self.events)} events, "
                    f"{self.stalls} select timeouts")
            if not self.link.pending:
                ready, _, _ = select.select(
                    self.link.fds(), [], [], select_timeout)
                if ready:
                    self.wakeups += 1
                else:
                    self.stalls += 1
            batch = self.link.drain(limit)
            self.batches.append(batch)
            self.events.extend(batch)
            if tick:
                self.link.tick(now())
                if self.link.pending:
                    continue
        return self

    def until_master_gets(self, master, timeout=5.0):
        """Drive the link until the master has a control frame waiting."""
        return self.run(lambda d: master.pull.poll(0), timeout=timeout,
                        select_timeout=0.01)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def master_ctx():
    """The fake master's own context (its own I/O thread, as in real life)."""
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def master(master_ctx, ipc_addrs):
    m = FakeMaster(master_ctx, *ipc_addrs)
    yield m
    m.close()


@pytest.fixture
def make_link(ctx, ipc_addrs):
    links = []

    def make(**kwargs):
        kwargs.setdefault("context", ctx)
        link = MasterLink(*ipc_addrs, **kwargs)
        link.open()
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


def assert_terminates(ctx):
    """Terminating *ctx* does not hang (no socket of it is left open)."""
    thread = threading.Thread(target=ctx.term, daemon=True)
    thread.start()
    wait_for(lambda: not thread.is_alive(), timeout=5,
             message="terminating the context hung")


def up(driver):
    return driver.link.connected


def serve_replay(master, frames):
    """In a thread: on HELLO, once subscribed, publish *frames* in a burst."""
    def serve():
        assert master.recv() == HELLO
        master.wait_subscribed()
        master.publish(frames)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------ bursts

@pytest.mark.parametrize("limit", [None, 100])
def test_burst_arrives_whole(master, make_link, limit):
    frames = [master_hello()] + numbered(5000)
    thread = serve_replay(master, frames)
    link = make_link()
    d = Driver(link).run(lambda d: len(numbers(d.events)) == 5000,
                         limit=limit)
    thread.join(5)
    assert numbers(d.events) == list(range(5000))
    assert d.stalls == 0, "frames were stranded until select timed out"
    assert isinstance(d.events[0], p.LinkUp)
    assert isinstance(d.events[1], p.MasterHello)
    assert not d.of(p.BadFrame)
    assert link.frames_received == 5001
    if limit is not None:
        assert max(len(b) for b in d.batches) <= limit + 1
        assert len(d.batches) > 5000 // limit


def wakeups(link, seconds=0.3):
    """How often select() on the link's descriptors returns in *seconds*."""
    count = 0
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select(link.fds(), [], [], left)[0]:
            count += 1
            link.drain()
    return count


def test_no_spinning(master, make_link):
    # a descriptor left readable for nothing makes select() return at once,
    # thousands of times in these 0.3 s
    link = make_link()
    Driver(link).run(up)
    assert master.recv() == HELLO
    link.send("WAKE", None)
    assert wakeups(link) < 5
    master.close()
    Driver(link).run(lambda d: d.of(p.LinkDown))
    # 0MQ retries every 100-200 ms, and the monitors say so
    assert wakeups(link) < 20
    master.bind()
    Driver(link).run(up)
    assert wakeups(link) < 5


# ------------------------------------------------------------ HELLO

def test_hello_as_soon_as_subscribed_then_big_replay(master_ctx, ipc_addrs,
                                                    make_link):
    # a master with 0MQ's default send queue (1000 frames per monitor)
    master = FakeMaster(master_ctx, *ipc_addrs, sndhwm=1000)
    link = make_link()
    d = Driver(link).until_master_gets(master)
    assert master.recv() == HELLO == b"\x65HELLO"
    assert d.of(p.LinkUp) and link.connected
    d.stalls = 0
    master.wait_subscribed()
    # the whole replay is published while the link reads nothing: it must
    # all fit in the link's receive queue (with 0MQ's default of 1000, the
    # master's queue fills and most of the replay is dropped)
    master.publish_paced([master_hello()] + numbered(30_000))
    d.run(lambda d: len(numbers(d.events)) == 30_000, limit=5000)
    assert numbers(d.events) == list(range(30_000))
    assert d.stalls == 0
    assert mark(link, master) == [], "HELLO was sent again needlessly"
    master.close()


def mark(link, master):
    """
    What the master received before a marker command sent now (frames on
    one connection arrive in order, so nothing sent earlier can follow it).
    """
    link.send("WAKE", 99)
    frames = []
    while (frame := master.recv()) != p.encode_control("WAKE", 99):
        frames.append(frame)
    return frames


def test_hello_resent_until_the_master_answers(master, make_link):
    clock = Clock()
    link = make_link(clock=clock)
    Driver(link).until_master_gets(master)
    assert master.recv() == HELLO
    link.tick(clock.advance(1))
    assert mark(link, master) == []
    link.tick(clock.advance(1))
    assert mark(link, master) == [HELLO]
    master.wait_subscribed()
    master.publish([master_hello()])
    Driver(link).run(lambda d: d.of(p.MasterHello))
    link.tick(clock.advance(10))
    assert mark(link, master) == []


def test_hello_retries_are_bounded(master, make_link):
    clock = Clock()
    link = make_link(clock=clock)
    Driver(link).until_master_gets(master)
    for _ in range(20):
        link.tick(clock.advance(3))
    # the first HELLO and five more
    assert mark(link, master) == [HELLO] * 6


# ------------------------------------------------------------ sending

def test_send_without_master_is_refused_not_queued(master_ctx, ipc_addrs,
                                                   make_link):
    link = make_link()
    start = time.monotonic()
    with pytest.raises(NotSent) as info:
        link.send("KILL", 3)
    assert time.monotonic() - start < 0.5
    assert info.value.args[0] == "not connected to the master: nothing was sent"
    assert link.drain() == []
    master = FakeMaster(master_ctx, *ipc_addrs)
    try:
        Driver(link).until_master_gets(master)
        link.send("WAKE", None)
        assert link.pending
        assert link.drain() == [p.CommandSent("WAKE", None)]
        # a queued KILL would have reached the master before HELLO
        assert master.recv() == HELLO
        assert master.recv() == p.resume()
        assert master.received() == []
    finally:
        master.close()


def test_send_delivers_exact_bytes(master, make_link):
    link = make_link()
    Driver(link).run(up)
    assert master.recv() == HELLO
    link.send("KILL", 3)
    link.send("QUIT")
    assert link.drain() == [p.CommandSent("KILL", 3),
                            p.CommandSent("QUIT", p.NO_DATA)]
    assert master.recv() == bytes.fromhex("82644b494c4c03")
    assert master.recv() == p.quit_master()


# ------------------------------------------------------------ up and down

def test_link_down_and_up_again(master, make_link):
    link = make_link()
    d = Driver(link).run(up)
    assert master.recv() == HELLO
    master.close()
    d.run(lambda d: d.of(p.LinkDown))
    assert not link.connected
    with pytest.raises(NotSent):
        link.send("QUIT")
    master.bind()
    d.run(lambda d: len(d.of(p.LinkUp)) == 2)
    assert link.connected
    assert master.recv() == HELLO
    link_events = [e for e in d.events if isinstance(e, p.LinkEvent)]
    assert [type(e) for e in link_events] == [p.LinkUp, p.LinkDown, p.LinkUp]
    assert "disconnected" in d.of(p.LinkDown)[0].reason
    master.wait_subscribed()
    master.publish([master_hello()] + numbered(10))
    d.run(lambda d: len(numbers(d.events)) == 10)


def test_oversized_frame_reconnects(master, make_link):
    link = make_link(max_frame=1000)
    d = Driver(link).run(up)
    assert master.recv() == HELLO
    master.wait_subscribed()
    master.publish(numbered(3) + [b"\x82" + b"x" * 2000] + numbered(3, 3))
    # 0MQ drops the connection and does not reconnect by itself
    d.run(lambda d: d.of(p.LinkDown), tick=True, select_timeout=0.1)
    d.run(lambda d: master.pull.poll(0), tick=True, select_timeout=0.1)
    assert master.recv() == HELLO
    d.run(lambda d: len(d.of(p.LinkUp)) == 2, tick=True, select_timeout=0.1)
    master.wait_subscribed()
    master.publish([master_hello()] + numbered(5, 100))
    d.run(lambda d: 104 in numbers(d.events), tick=True, select_timeout=0.1)
    assert numbers(d.events) == [0, 1, 2, 100, 101, 102, 103, 104]
    assert link.connected


def test_a_replay_that_always_breaks_the_link_is_not_asked_for_in_a_loop(
        master, make_link):
    # a master whose replay holds a frame over the limit ends every
    # connection it answers: after SHORT_LIVES such short connections the
    # HELLO that asks for the replay again waits, longer each time, up to
    # HELLO_BACKOFF_MAX; the hold itself must not make a connection look
    # long-lived. The link's timers run on a clock the test moves, so
    # nothing here depends on how fast the machine is.
    clock = Clock()
    link = make_link(max_frame=1024, clock=clock)
    d = Driver(link)
    holds = []
    for lives in range(10):
        # (re)connect: 0MQ in real time, the link's recovery on our clock
        deadline = time.monotonic() + 10
        while len(d.of(p.LinkUp)) <= lives:
            assert time.monotonic() < deadline, "no reconnection"
            d.events += link.drain()
            if len(d.of(p.LinkUp)) <= lives:
                link.tick(clock.advance(
                    link_module.RECOVER_DELAY.total_seconds()))
                select.select(link.fds(), [], [], 0.05)
        hold = min(link_module.HELLO_BACKOFF * 2 ** max(
            min(lives - link_module.SHORT_LIVES, 5), 0),
            link_module.HELLO_BACKOFF_MAX)
        if lives < link_module.SHORT_LIVES:
            hold = dt.timedelta(0)
        if hold:
            # not a moment before the hold is over...
            link.tick(clock.advance(hold.total_seconds() - 0.1))
            d.events += link.drain()
            assert not master.pull.poll(100), f"HELLO {lives} came early"
            link.tick(clock.advance(0.1))
        d.events += link.drain()
        assert master.recv() == HELLO   # ...and then at once
        holds.append(hold.total_seconds())
        master.wait_subscribed()
        master.publish([b"\x82" + b"x" * 2000])  # the replay breaks it
        d.run(lambda d, n=lives + 1: len(d.of(p.LinkDown)) == n,
              select_timeout=0.05)
    assert holds == [0, 0, 0, 2, 4, 8, 16, 32, 60, 60]
    # and the link says so, for the screen to explain it
    assert [e.replay_in for e in d.of(p.LinkUp)] == holds
    assert [e.broken_replays for e in d.of(p.LinkDown)] == [
        0, 0, 3, 4, 5, 6, 7, 8, 9, 10]


# ------------------------------------------------------------ addresses

@pytest.mark.parametrize("address, reason", [
    ("tcp://nohost", "Invalid argument"),
    ("bogus://x", "Protocol not supported"),
    ("", "Invalid argument"),
])
def test_bad_status_address(ctx, address, reason):
    link = MasterLink(address, "ipc:///nonexistent/control", context=ctx)
    with pytest.raises(LinkError) as info:
        link.open()
    message = str(info.value)
    assert message == f'invalid status queue address "{address}": {reason}'
    assert "\n" not in message
    assert link.fds() == []


def test_bad_control_address(ctx, ipc_addrs):
    link = MasterLink(ipc_addrs[0], "bad\x1b[2J", context=ctx)
    with pytest.raises(LinkError) as info:
        link.open()
    assert str(info.value) == (
        'invalid control queue address "bad?[2J": Invalid argument')
    # nothing was left open: the context terminates at once
    assert_terminates(ctx)


# ------------------------------------------------------------ closing

def test_close_is_prompt_with_unsent_commands(master):
    link = MasterLink(master.status, master.control)  # its own context
    try:
        link.open()
        Driver(link).run(up)
        # the master never reads: fill every queue on the way to it
        with pytest.raises(NotSent) as info:
            for _ in range(200_000):
                link.send("SKIP", 1)
        assert info.value.args[0] == (
            "not connected to the master: nothing was sent")
        start = time.monotonic()
        link.close()
        link.close()
        assert time.monotonic() - start < 1
    finally:
        link.close()
    assert link.fds() == []
    assert link.drain() == []
    assert not link.connected
    with pytest.raises(NotSent):
        link.send("QUIT")


def test_a_command_sent_just_before_close_is_not_dropped(master, ipc_addrs,
                                                         monkeypatch):
    # Terminate sends QUIT and exits at once: closing must give the QUIT
    # its moment to leave, and only the control socket waits
    lingers = []
    close = link_module._Queue.close

    def spy(queue, linger=0):
        lingers.append((queue.name, linger))
        close(queue, linger)

    monkeypatch.setattr(link_module._Queue, "close", spy)
    for _ in range(10):
        link = MasterLink(*ipc_addrs)  # its own context, ended by close
        link.open()
        Driver(link).run(up)
        assert master.recv() == HELLO
        link.send("QUIT")
        link.close()
        assert master.recv() == p.quit_master()
    assert set(lingers) == {("status queue", 0), ("control queue", FLUSH_LINGER)}
    assert FLUSH_LINGER <= 500


def test_close_leaves_a_given_context_free(ctx, master):
    link = MasterLink(master.status, master.control, context=ctx)
    link.open()
    Driver(link).run(up)
    link.close()
    master.close()
    assert_terminates(ctx)


def test_read_only(master_ctx, ipc_addrs, make_link):
    pub = master_ctx.socket(zmq.PUB)
    pub.linger = 0
    pub.bind(ipc_addrs[0])
    try:
        link = make_link(read_only=True)
        # the status socket, its monitor, and the probe thread's pipe
        assert len(link.fds()) == 3
        # up with no control queue at all, and no HELLO can go anywhere
        d = Driver(link).run(up)
        assert d.of(p.LinkUp)
        with pytest.raises(NotSent) as info:
            link.send("SLEEP", None)
        assert "read-only" in info.value.args[0]
        assert not link.pending
        # frames flow all the same (published until the subscription is live)
        frame = numbered(1)[0]
        d.run(lambda d: pub.send(frame) or numbers(d.events),
              select_timeout=0.05)
    finally:
        pub.close()


# ------------------------------------------------------------ bad frames

def test_bad_frames_then_good_ones(master, make_link):
    link = make_link()
    d = Driver(link).run(up)
    assert master.recv() == HELLO
    master.wait_subscribed()
    master.publish([b"", b"\xff", [b"a", b"bc"], b"\x65HELLO"]
                   + numbered(2))
    d.run(lambda d: len(numbers(d.events)) == 2)
    bad = d.of(p.BadFrame)
    assert [b.reason for b in bad[:1] + bad[2:3]] == [
        "empty frame", "multipart message"]
    assert bad[1].reason.startswith("invalid CBOR")
    assert bad[2].size == 3
    assert len(bad) == 4  # a bare "HELLO" without data is not a status
    assert link.connected
    assert link.frames_received == 6
    master.publish(numbered(1, 7))
    d.run(lambda d: 7 in numbers(d.events))
    assert not d.of(p.LinkDown)


def test_a_backlog_past_the_memory_bound_is_shed_and_a_replay_asked(
        master, make_link, monkeypatch):
    # issue 14, finding 4: a monitor that falls behind a flood must not grow
    # without bound. The bound is set just above what the process holds
    # now; the flood (40 MB of frames the link has not read yet) takes it
    # past it.
    link = make_link()
    d = Driver(link).run(up)
    assert master.recv() == HELLO
    master.wait_subscribed()
    base = link_module.resident_memory()
    assert base is not None, "no /proc/self/statm here"
    monkeypatch.setattr(link_module, "MAX_MEMORY", base + 20 * 2 ** 20)
    frame = cbor2.dumps(["SLAVE", [1, now(), "SEND", "x" * 1000]])
    master.publish([frame] * 40_000)
    # 0MQ queues what arrives: wait until the process holds it
    wait_for(lambda: link_module.resident_memory() > base + 25 * 2 ** 20,
             timeout=30, message="the flood never reached the monitor")
    # (read without decoding a slice at a time, reported once nothing
    # waits, and every second meanwhile)
    d.run(lambda d: any(o.asked for o in d.of(p.Overflow)), limit=500,
          timeout=30)
    overflows = d.of(p.Overflow)
    assert all(o.memory > base + 20 * 2 ** 20 for o in overflows)
    assert sum(o.dropped for o in overflows) == link.frames_dropped > 0
    # every frame is accounted for: read and decoded, or dropped unread
    d.run(lambda d: link.frames_received == 40_000, timeout=30)
    # the link asked for a fresh picture
    d.run(lambda d: master.pull.poll(0), tick=True, select_timeout=0.1)
    assert master.recv() == HELLO
    assert link.connected
    # bounded: a second flood like the first takes no more than the bound
    # or what the first took (the allocator keeps freed memory for later);
    # the events are not kept this time, as a console does not keep them
    d.events.clear()
    after_first = link_module.resident_memory()
    master.publish([frame] * 40_000)
    deadline = time.monotonic() + 30
    while link.frames_received < 80_000:
        assert time.monotonic() < deadline, link.frames_received
        if not link.pending:
            select.select(link.fds(), [], [], 0.1)
        link.drain(500)
    limit = max(after_first, link_module.MAX_MEMORY)
    assert link_module.resident_memory() <= limit + 10 * 2 ** 20
