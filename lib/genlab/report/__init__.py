"""Reporting over trained models: the comparison chapter's tables and figures, novelty against the training set.

This layer sits above :mod:`genlab.models` (it loads finished runs through the registry); the metric
maths and the evaluation pipeline it reads stay below, in :mod:`genlab.eval`.
"""
