"""Evaluation below the models: the feature nets, the metric maths, the evaluation pipeline, intervals.

Nothing here imports :mod:`genlab.models`: a trained model is known by its protocol only, so the models call
:func:`genlab.eval.evaluation.evaluate`. Comparing trained runs is :mod:`genlab.report`.
"""
