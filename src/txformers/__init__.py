"""txformers: Hugging Face Hub-native models for transcriptomics.

Importing txformers registers every config, model, tokenizer, processor and pipeline with transformers
(`txformers.hub.register`), so `AutoModel.from_pretrained(path)`, `AutoTokenizer.from_pretrained(path)` and
`pipeline(task, model=path)` work on txformers checkpoints without `trust_remote_code`.

The import itself is light: the public classes below load on first use, and registration runs as soon as
transformers is (or already was) imported. So the `txformers` command parses arguments, prints help and
checks outputs without importing torch or transformers.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

_EXPORTS = {  # public name: module that defines it
    **dict.fromkeys(
        (
            "CellformerConfig",
            "CellformerForCellClassification",
            "CellformerForMaskedExpressionModeling",
            "CellformerModel",
        ),
        ".models.cellformer",
    ),
    **dict.fromkeys(
        ("MetaScDrugConfig", "MetaScDrugForDrugResponse", "MetaScDrugModel", "MetaScDrugProcessor"),
        ".models.metascdrug",
    ),
    **dict.fromkeys(
        (
            "SpliceBertConfig",
            "SpliceBertForMaskedLM",
            "SpliceBertForSequenceClassification",
            "SpliceBertForTokenClassification",
            "SpliceBertModel",
            "SpliceBertPreTrainedModel",
        ),
        ".models.splicebert",
    ),
    **dict.fromkeys(
        (
            "GeneCoverageError",
            "GeneExpressionTokenizer",
            "InvalidNucleotideError",
            "InvalidSmilesError",
            "NucleotideTokenizer",
            "SmilesTokenizer",
        ),
        ".tokenizers",
    ),
    "register": ".hub",
}


def __getattr__(name: str):
    """Load a public class on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _RegisterWithTransformers(importlib.abc.MetaPathFinder):
    """Runs :func:`txformers.hub.register` once transformers is imported, by anyone.

    When transformers is imported from inside a txformers module that is still loading (``from
    txformers.models.cellformer import ...``), registration waits until that outermost txformers import has
    finished, since it imports every model family. The finder removes itself after registering.
    """

    def __init__(self) -> None:
        self.loading = 0  # txformers modules being executed right now
        self.pending = False

    def find_spec(self, fullname, path, target=None):
        if fullname != "transformers" and not fullname.startswith(f"{__name__}."):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module
        if fullname == "transformers":

            def exec_then_register(module):
                exec_module(module)
                self.pending = True
                if not self.loading:
                    self.register()

        else:

            def exec_then_register(module):
                self.loading += 1
                try:
                    exec_module(module)
                finally:
                    self.loading -= 1
                if self.pending and not self.loading:
                    self.register()

        spec.loader.exec_module = exec_then_register
        return spec

    def register(self) -> None:
        self.pending = False
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from .hub import register

        register()


if "transformers" in sys.modules:
    from .hub import register as _register

    _register()
elif not any(type(finder).__name__ == "_RegisterWithTransformers" for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithTransformers())

__all__ = sorted(name for name in _EXPORTS if name != "register")
