"""``python -m bench report [...]``: the benchmark report (:mod:`bench.report`)."""

from __future__ import annotations

import sys

COMMANDS = {"report": "bench.report"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m bench {{{','.join(COMMANDS)}}} [--help]", file=sys.stderr)
        return 2
    from bench.report import main as report

    return report(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
