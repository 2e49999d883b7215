"""Short, fixed-width renderings of numbers, ages and times for tables."""

from __future__ import annotations

import time


def count(n: int) -> str:
    """1234 -> '1234', 123456 -> '123k', 1234567 -> '1.23M' (at most 6 characters)."""
    if n < 100_000:
        return str(n)
    if n < 1_000_000:
        return f"{n // 1000}k"
    if n < 100_000_000:
        return f"{n / 1_000_000:.3g}M"
    return f"{n // 1_000_000}M"


def rate(per_min: float) -> str:
    """Jobs per minute, '-' when none."""
    if per_min <= 0:
        return "-"
    if per_min < 10:
        return f"{per_min:.1f}"
    return count(round(per_min))


def age(then: float | None, now: float) -> str:
    """How long before `now`, as '42s', '5m', '3h', '12d' ('-' if unknown)."""
    if then is None:
        return "-"
    seconds = max(0.0, now - then)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def timestamp(when: float | None) -> str:
    """Local time as 'YYYY-MM-DD HH:MM:SS' ('-' if unknown)."""
    if when is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def sparkline(values: tuple[int, ...] | list[int], levels: str, width: int) -> str:
    """The last `width` values drawn with `levels` (lowest first), scaled to the maximum."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    top = max(tail)
    if top <= 0:
        return levels[0] * len(tail)
    last = len(levels) - 1
    return "".join(levels[min(last, round(v / top * last))] for v in tail)


def progress_bar(fraction: float | None, width: int) -> str:
    """`[#####.....]  50%` for a known fraction, `[.....]` without one (ASCII: any terminal)."""
    if fraction is None:
        return "[" + "." * width + "]"
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "[" + "#" * filled + "." * (width - filled) + f"] {fraction * 100:3.0f}%"
