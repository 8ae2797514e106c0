"""
The console: urwid widgets, the key table and the commands they run.

Nothing here talks to 0MQ: the widgets read the :class:`~piw_monitor.model.Farm`
and call :class:`~piw_monitor.actions.Actions`.
"""
