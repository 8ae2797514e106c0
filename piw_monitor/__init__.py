"""
piw-monitor: a terminal console for a piwheels master.

It shows every build slave the master knows about, live, and lets an
administrator pause and resume the master, retire a slave, or stop the master.
"""

__version__ = "0.1.0"
