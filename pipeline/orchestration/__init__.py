"""Orchestration helpers the Prefect flows (pipeline/flows.py) use; no Prefect import here.

``commands`` runs one DVC stage (or the registry's re-evaluation) as a subprocess in the
repository root, bounded in time, and fails with the stage's name and stderr tail;
``workspace`` resolves the repository and selects the params profile.
"""
