"""
The console's colours. Every attribute a widget uses is named here.

No 16-colour entry has a bright background ("light cyan", "dark gray"):
on the Linux console (TERM=linux) urwid can only get one by setting the
blink attribute, and the selected row and the buttons would blink. The
brighter look is kept for terminals of 256 colours, in the entries' last
two fields.
"""

__all__ = ["PALETTE"]

# name, foreground, background, mono, foreground (256), background (256)
PALETTE = [
    ("header", "white", "dark blue", "bold"),
    ("header-warn", "yellow,bold", "dark blue", "bold"),
    ("header-bad", "white,bold", "dark red", "standout"),
    ("colhead", "black", "light gray", "underline"),
    ("focus", "black", "dark cyan", "standout", "black", "h14"),
    ("selected", "black", "light gray", "bold"),
    ("stale", "dark gray", "default", "default"),
    ("master-row", "light blue,bold", "default", "bold"),
    ("details", "default", "default", "default"),
    ("details-key", "dark cyan", "default", "default"),
    ("dim-dialog", "dark gray", "light gray", "default"),
    ("filter", "yellow,bold", "default", "bold"),
    ("dim", "dark gray", "default", "default"),
    ("status", "light gray", "default", "default"),
    ("status-error", "light red,bold", "default", "bold"),
    ("footer", "default", "default", "default"),
    ("button", "white", "dark blue", "default", "white", "h8"),
    ("button-disabled", "dark gray", "black", "default"),
    ("button-focus", "black", "dark cyan", "standout", "black", "h14"),
    ("hotkey", "yellow,bold,underline", "dark blue", "underline",
     "h11,bold,underline", "h8"),
    ("hotkey-focus", "dark red,bold,underline", "dark cyan", "standout",
     "h1,bold,underline", "h14"),
    ("dialog", "black", "light gray", "default"),
    ("hotkey-help", "dark blue,bold", "light gray", "bold"),
    ("state-idle", "light gray", "default", "default"),
    ("state-building", "light green,bold", "default", "bold"),
    ("state-sending", "light cyan,bold", "default", "bold"),
    ("state-cleaning", "dark cyan", "default", "default"),
    ("state-late", "yellow,bold", "default", "bold"),
    ("state-silent", "light red,bold", "default", "standout"),
    ("state-terminating", "light magenta", "default", "default"),
    ("text-late", "yellow", "default", "default"),
    ("text-silent", "light red", "default", "default"),
    ("text-terminating", "light magenta", "default", "default"),
    # resource figures by level (careful, warning, critical), and the flag
    # of a slave under pressure
    ("res-ok", "default", "default", "default"),
    ("res-careful", "light cyan", "default", "default"),
    ("res-warning", "yellow,bold", "default", "bold"),
    ("res-critical", "light red,bold", "default", "standout"),
    # underlined in monochrome too, so that it shows inside the
    # selection's reverse video
    ("pressure", "white,bold", "dark red", "standout,underline"),
]
