"""Dataset builders (`datasets.GeneratorBasedBuilder` classes); each has a card in `cards/`.

Use a builder as a class (datasets 5.x no longer loads scripts by path)::

    from txformers.datasets import SpliceSitesBuilder
    builder = SpliceSitesBuilder(data_dir="path/to/ensemblesplice_600nt/homo_sapiens", crop=400)
    builder.download_and_prepare()
    splits = builder.as_dataset()
"""

from .branchpoints import BranchpointsBuilder, BranchpointsConfig
from .gdsc import GdscBuilder, GdscConfig
from .premrna import PreMrnaBuilder, PreMrnaConfig
from .sc_drug_response import ScDrugResponseBuilder, ScDrugResponseConfig, load_sc_drug_response
from .splice_sites import SpliceSitesBuilder, SpliceSitesConfig
from .splice_variants import SpliceVariantsBuilder

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
