"""The console's colours. Every attribute a widget uses is named here."""

__all__ = ["PALETTE"]

# name, foreground, background, mono, foreground (256), background (256)
PALETTE = [
    ("header", "white", "dark blue", "bold"),
    ("header-warn", "yellow,bold", "dark blue", "bold"),
    ("header-bad", "white,bold", "dark red", "standout"),
    ("colhead", "black", "light gray", "underline"),
    ("focus", "black", "light cyan", "standout"),
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
    ("button", "white", "dark gray", "default"),
    ("button-disabled", "dark gray", "black", "default"),
    ("button-focus", "black", "light cyan", "standout"),
    ("hotkey", "yellow,bold,underline", "dark gray", "underline"),
    ("hotkey-focus", "dark red,bold,underline", "light cyan", "standout"),
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
    ("pressure", "white,bold", "dark red", "standout"),
]
