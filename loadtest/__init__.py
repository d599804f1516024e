"""Synthetic hearing participants and the pod's capacity report."""
