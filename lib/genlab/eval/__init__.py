"""Evaluation: the feature net, the metrics, the comparison of models."""
