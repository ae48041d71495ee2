# Copyright 2026 The txformers authors. BSD-3-Clause.
"""Where checkpoints come from: Hub repo ids, with the folders bundled in this repository as the offline fallback.

``resolve_checkpoint("splicebert-small-pretrained")`` gives the bundled folder when it exists (a source
checkout), else the Hub repo id ``txformers/splicebert-small-pretrained`` for ``from_pretrained`` to fetch.
A path or a full repo id (``owner/name``) is returned unchanged.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = REPO_ROOT / "checkpoints"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
HUB_ORGANIZATION = "txformers"

BUNDLED_CHECKPOINTS = (
    "splicebert-small-pretrained",
    "splicebert-small-splice-sites",
    "metascdrug-meta",
    "metascdrug-nometa",
    "cellformer-pretrained",
    "cellformer-cancer-type",
)


def resolve_checkpoint(name: str | Path) -> str | Path:
    """A local folder for a bundled checkpoint name, else the name as a path or Hub repo id."""
    text = str(name)
    if Path(text).exists() or "/" in text or "\\" in text:
        return name
    bundled = CHECKPOINTS / text
    if bundled.is_dir():
        return bundled
    return f"{HUB_ORGANIZATION}/{text}"
