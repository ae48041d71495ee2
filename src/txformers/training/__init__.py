"""Accelerate entry points: `python -m txformers.training.<name>` or `accelerate launch -m ...`."""
