"""Dispatch `python -m qtui.bench AREA [options]` to qtui.bench.<area>.main."""

import importlib
import sys

from qtui.bench import AREAS


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in AREAS:
        print("usage: python -m qtui.bench AREA [options]\n\nareas:", file=sys.stderr)
        for name, what in AREAS.items():
            print(f"  {name:<10} {what}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"qtui.bench.{argv[0]}")
    return module.main(argv[1:])


raise SystemExit(main(sys.argv[1:]))
