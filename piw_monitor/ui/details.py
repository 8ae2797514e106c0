"""
The details pane: everything known about the selected row, the master's or
a slave's, with bars for the resources.
"""

from __future__ import annotations

import urwid

from ..sanitize import printable
from . import format as fmt
from . import measure

__all__ = ["DetailsPane", "bar", "slave_details", "master_details"]

BAR_FULL = "\N{FULL BLOCK}"
BAR_EMPTY = "\N{LIGHT SHADE}"


def bar(used, total, width=12):
    """A bar *width* cells wide showing *used* out of *total*."""
    if not total or total <= 0:
        return BAR_EMPTY * width
    filled = round(width * min(max(used / total, 0.0), 1.0))
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def _resource(name, size, free):
    if not size:
        return (name, "-")
    used = size - free
    return (name, f"{bar(used, size)} {fmt.size(free)} free of "
                  f"{fmt.size(size)}")


def _load_and_temp(stats):
    return [
        ("Load", f"{bar(stats.load_average, 4.0)} {stats.load_average:.2f}"),
        ("Temperature", f"{bar(stats.cpu_temp, 85.0)} {stats.cpu_temp:.1f} °C"),
    ]


def slave_details(slave, now):
    """(label, value) pairs describing *slave*."""
    p = printable
    pairs = [
        ("Slave", f"{slave.slave_id} {p(slave.label)}"),
        ("ABI", p(slave.abi)),
        ("Python", p(slave.py_version)),
        ("Platform", p(slave.platform)),
        ("OS", p(f"{slave.os_name} {slave.os_version}".strip())),
        ("Board", p(f"{slave.board_revision} (serial {slave.board_serial})")),
        ("State", f"{slave.state(now)}: {p(slave.task_text())}"),
        ("First seen", fmt.clock(slave.first_seen)),
        ("Last seen", f"{fmt.clock(slave.last_seen)} "
                      f"({fmt.ago(slave.silence(now))} ago)"),
        ("Clock skew", "-" if slave.clock_skew is None else
         f"{slave.clock_skew.total_seconds():+.1f} s"),
        ("Timeouts", f"build {fmt.duration(slave.build_timeout)}, "
                     f"busy {fmt.duration(slave.busy_timeout)}"),
    ]
    if slave.task == "building" or slave.build_started is not None:
        # a build learnt from a replay began at a time the master does not
        # say
        took = fmt.duration(slave.build_time(now)) \
            if slave.build_started is not None else "a time not known"
        pairs.append(("Build", f"{p(slave.package)} {p(slave.version)} for "
                               f"{took}"))
    stats = slave.stats
    if stats is not None:
        pairs += [
            _resource("Disk", stats.disk_size, stats.disk_free),
            _resource("Memory", stats.mem_size, stats.mem_free),
            _resource("Swap", stats.swap_size, stats.swap_free),
            *_load_and_temp(stats),
        ]
    for when, text in list(slave.history)[-5:]:
        pairs.append((fmt.clock(when), p(text)))
    return pairs


def _by_abi(mapping):
    if not mapping:
        return "-"
    return ", ".join(f"{printable(abi, 16)} {n}"
                     for abi, n in sorted(mapping.items()))


def master_details(farm, now):
    """(label, value) pairs describing the master."""
    m = farm.master
    pairs = [
        ("Master", printable(m.label) or "-"),
        ("State", m.state(now)),
        ("OS", printable(f"{m.os_name} {m.os_version}".strip()) or "-"),
        ("Board", printable(f"{m.board_revision} (serial {m.board_serial})")),
        ("Started", fmt.clock(m.started)),
        ("Up", fmt.duration(m.up_time(now))),
        # the master's clock minus ours, from its timestamps: every time on
        # screen is judged on the master's clock
        ("Clock skew", "-" if m.skew is None else
         f"{m.skew.total_seconds() + 0.0:+.1f} s (master minus monitor)"),
        ("Frames", f"{farm.frames} received, {farm.bad_frames} bad"
                   + (f" (latest: {printable(farm.last_bad_reason, 60)})"
                      if farm.bad_frames else "")),
    ]
    stats = m.stats
    if stats is None:
        return pairs + [("Statistics", "none yet")]
    pairs += [
        ("Builds/hour", _by_abi(stats.builds_last_hour)),
        ("Pending", _by_abi(stats.builds_pending)),
        ("Built", f"{stats.packages_built} packages, "
                  f"{stats.files_count} files"),
        ("Build time", fmt.duration(stats.builds_time)),
        ("Build size", fmt.size(stats.builds_size)),
        ("Downloads", f"{stats.downloads_last_hour} last hour, "
                      f"{stats.downloads_last_month} last month, "
                      f"{stats.downloads_all} in all"),
        _resource("Disk", stats.disk_size, stats.disk_free),
        _resource("Memory", stats.mem_size, stats.mem_free),
        _resource("Swap", stats.swap_size, stats.swap_free),
        *_load_and_temp(stats),
    ]
    return pairs


class DetailsPane(urwid.WidgetWrap):
    """The details of the selected row, refreshed with the screen."""

    def __init__(self, farm, view, slave_list):
        self.farm = farm
        self.view = view
        self.slave_list = slave_list
        self._walker = urwid.SimpleListWalker([])
        super().__init__(urwid.AttrMap(urwid.LineBox(
            urwid.ListBox(self._walker), title="Details"), "details"))

    def selectable(self):
        return False

    def update(self):
        """Show the selected row's details as they are now."""
        slave = self.slave_list.selected
        if slave is not None:
            pairs = slave_details(slave, self.view.now)
        else:
            pairs = master_details(self.farm, self.view.now)
        self._walker[:] = [
            urwid.Columns([(12, measure.text(("details-key", k), wrap="clip")),
                           measure.text(v, wrap="ellipsis")], dividechars=1)
            for k, v in pairs]
