"""Drug response (the MetaSCDrug family): the task logic that the CLI, the demo, benchmarks and the training
entry points share.

* :mod:`.inputs`: the drug (a name looked up in SMILES tables, or a SMILES), the gene map, labelled cells;
* :mod:`.fewshot`: few-shot LoRA adaptation to single cells, its metrics and the few-shot benchmark;
* :mod:`.meta_learning`: GDSC tasks, drug-blind splits, episodes, the MAML and multitask losses;
* :mod:`.unseen_drugs`: AUROC on drugs held out of pre-training, and the no-model baseline;
* :mod:`.critical_genes`: integrated-gradient gene rankings and their stability.
"""
