"""Helpers shared by the test modules."""

import datetime as dt
import json
import os
import time
from pathlib import Path

#: The shared folder beside the checkout (fixtures, protocol description).
SHARED = Path(os.environ.get(
    "PIW_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))

#: The frames recorded from a real piwheels master: read from the shared
#: folder when it is there, else from the unchanged copy kept in tests/.
FIXTURES = SHARED / "fixtures" / "piwheels-master"
if not FIXTURES.is_dir():
    FIXTURES = Path(__file__).resolve().parent / "fixtures" / "piwheels-master"

#: When the recorder of the fixtures started (its "t" values count from here).
RECORDING_START = dt.datetime(
    2026, 11, 28, 2, 50, 35, 467458, tzinfo=dt.timezone.utc)


def read_jsonl(name):
    """The records of one of the recorded ``.jsonl`` fixtures."""
    with open(FIXTURES / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def status_records():
    """Every recorded status frame: dicts with t, hex, decoded, note."""
    return read_jsonl("status-stream.jsonl")


def control_records():
    """Every recorded control message."""
    return read_jsonl("control-messages.jsonl")


def recorded_time(record):
    """The wall-clock time at which a recorded frame arrived."""
    return RECORDING_START + dt.timedelta(seconds=record["t"])


def wait_for(condition, timeout=10.0, interval=0.005, message=None):
    """
    Poll *condition* until it returns something true, and return that.
    Fails the test after *timeout* seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message or f"timed out waiting for {condition}")
        time.sleep(interval)
