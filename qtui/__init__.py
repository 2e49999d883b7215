"""qtui: a terminal console for operating job queues."""

__version__ = "0.1.0"
