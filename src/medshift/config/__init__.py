"""Frozen, validated configuration, one module per params.yaml section.

``base`` holds the loader (profile merging) and the validation helpers; ``simulate``,
``ingest``, ``split``, ``classifier``, ``autoencoder`` (with ``autoencoder_report``) and
``velocity`` each define their section's dataclass. This file imports nothing, so a stage's
code is exactly ``base`` plus its own section module (dvc.yaml lists just those).
"""
