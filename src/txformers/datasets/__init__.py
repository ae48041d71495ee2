"""Dataset builders (`datasets.GeneratorBasedBuilder` classes); each has a card in `cards/`.

Use a builder as a class (datasets 5.x no longer loads scripts by path)::

    from txformers.datasets import SpliceSitesBuilder
    builder = SpliceSitesBuilder(data_dir="path/to/ensemblesplice_600nt/homo_sapiens", crop=400)
    builder.download_and_prepare()
    splits = builder.as_dataset()
"""

import importlib

_EXPORTS = {  # public name: module that defines it (loaded on first use: `datasets` is slow to import)
    "BranchpointsBuilder": ".branchpoints",
    "BranchpointsConfig": ".branchpoints",
    "GdscBuilder": ".gdsc",
    "GdscConfig": ".gdsc",
    "PreMrnaBuilder": ".premrna",
    "PreMrnaConfig": ".premrna",
    "ScDrugResponseBuilder": ".sc_drug_response",
    "ScDrugResponseConfig": ".sc_drug_response",
    "load_sc_drug_response": ".sc_drug_response",
    "SpliceSitesBuilder": ".splice_sites",
    "SpliceSitesConfig": ".splice_sites",
    "SpliceVariantsBuilder": ".splice_variants",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BranchpointsBuilder",
    "BranchpointsConfig",
    "GdscBuilder",
    "GdscConfig",
    "PreMrnaBuilder",
    "PreMrnaConfig",
    "ScDrugResponseBuilder",
    "ScDrugResponseConfig",
    "SpliceSitesBuilder",
    "SpliceSitesConfig",
    "SpliceVariantsBuilder",
    "load_sc_drug_response",
]
