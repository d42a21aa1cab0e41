"""Disclosure stage: the perturbation table, the published cells perturbed by the cell key method, and the check
of the disclosure rules."""
