"""Display attributes: one palette with colours and a monochrome rendering.

urwid uses the mono column when the terminal has no colours or NO_COLOR is set,
so every attribute must stay readable as plain, bold, underline or standout.
"""

# (name, foreground, background, mono)
PALETTE = [
    ("header", "white,bold", "dark blue", "bold,standout"),
    ("tab", "light gray", "dark blue", ""),
    ("tab active", "yellow,bold", "dark blue", "bold,underline"),
    ("column", "bold", "", "bold,underline"),
    ("row", "", "", ""),
    ("focus", "black", "light cyan", "standout"),
    ("marked", "yellow,bold", "", "bold"),
    ("marked focus", "yellow,bold", "dark cyan", "bold,standout"),
    ("dim", "dark gray", "", ""),
    ("ok", "light green", "", ""),
    ("warn", "yellow", "", "bold"),
    ("error", "light red,bold", "", "bold"),
    ("dead", "light red", "", ""),
    ("spark", "light cyan", "", ""),
    ("status", "white", "dark gray", "standout"),
    ("status ok", "light green,bold", "dark gray", "standout"),
    ("status bad", "light red,bold", "dark gray", "bold,standout"),
    ("status warn", "yellow,bold", "dark gray", "bold,standout"),
    ("hint", "light gray", "", ""),
    ("key", "yellow,bold", "", "bold"),
    ("prompt", "yellow,bold", "", "bold"),
    ("dialog", "white", "dark red", "standout"),
    ("dialog title", "white,bold", "dark red", "bold,standout"),
    ("label", "light cyan", "", "bold"),
    ("json", "", "", ""),
    # plugin panels: the frame, and the fixed styles plugins may use (qtui.plugins.runtime.api.STYLES)
    ("panel title", "light gray", "dark gray", "underline"),
    ("panel title focus", "white,bold", "dark blue", "bold,standout"),
    ("panel state", "yellow", "dark gray", "bold"),
    ("plugin normal", "", "", ""),
    ("plugin dim", "dark gray", "", ""),
    ("plugin bold", "bold", "", "bold"),
    ("plugin title", "white,bold,underline", "", "bold,underline"),
    ("plugin accent", "light cyan", "", "underline"),
    ("plugin ok", "light green", "", ""),
    ("plugin warn", "yellow,bold", "", "bold"),
    ("plugin error", "light red,bold", "", "bold,standout"),
]
