# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`python -m txformers.cli ...` is the same as `txformers ...`."""

import sys

from . import main

sys.exit(main())
