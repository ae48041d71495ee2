"""Task logic that the CLI, pipelines and training recipes share: ``splicing/``, ``drug_response/``, ``cytokine/``."""
