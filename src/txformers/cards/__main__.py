# Copyright 2026 The txformers authors. BSD-3-Clause.
"""``python -m txformers.cards --bundled [--check]``: re-render (or check) every bundled card.

Each card is written to ``model_cards/NAME.md`` and ``checkpoints/NAME/README.md``. For any other
checkpoint, use ``txformers card RESULTS --kind KIND --name NAME --out FILE``.
"""

from __future__ import annotations

import argparse
import sys

from .render import write_bundled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m txformers.cards",
        description="Render the cards of the bundled checkpoints into model_cards/ and checkpoints/*/README.md.",
    )
    parser.add_argument("--bundled", action="store_true", required=True, help="every bundled checkpoint")
    parser.add_argument("--check", action="store_true", help="only check that the bundled cards are up to date")
    return write_bundled(check=parser.parse_args(argv).check)


if __name__ == "__main__":
    sys.exit(main())
