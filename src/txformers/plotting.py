"""Every figure txformers draws (demo, CLI, cards)."""
