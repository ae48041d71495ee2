# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Former home of the model cards, kept so that old imports and commands work: use :mod:`txformers.cards`.

``python -m txformers.model_cards --bundled [--check]`` is ``python -m txformers.cards --bundled [--check]``.
"""

import sys

from .cards import *  # noqa: F403
from .cards import __all__  # noqa: F401

if __name__ == "__main__":
    from .cards.__main__ import main

    sys.exit(main())
