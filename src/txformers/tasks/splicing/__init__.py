"""Splicing with SpliceBERT: the task logic the CLI, pipelines and training recipes share.

* :mod:`.variant_effect`: zero-shot variant-effect tables (WT/mutant pairs, VCF-style SNVs on a genome),
  MaPSy evaluation against baselines;
* :mod:`.sites`: splice-site candidates as TSV rows and BED calls, and the metrics and one-hot baseline of
  splice-site classifiers;
* :mod:`.mlm`: masking and the held-out masked-nucleotide evaluation of SpliceBERT.

The per-nucleotide inference and the scores themselves live in the portable scoring engine
:mod:`txformers.models.splicebert.scoring_splicebert`.
"""
