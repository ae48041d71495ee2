"""Cytokine patterns and cancer type of tumour immune cells (Ren et al., Comput. Biol. Chem. 2024), with Cellformer.

* :mod:`.cancer_type`: cells of a tumour-immune manifest as arrays, patient-grouped splits, baselines, scores,
  the study confound;
* :mod:`.patterns`: the cytokine pattern of each cancer type (one-vs-rest statistics, integrated gradients);
* :mod:`.masked_expression`: the cell stream, masking and held-out evaluation of Cellformer pretraining.
"""
