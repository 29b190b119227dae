"""Randomness and the stochastic model: from per-draw inputs to outcomes by cohort and quarter.

Holds the random streams (:mod:`~simsib.model.streams`), the per-draw inputs
(:mod:`~simsib.model.inputs`), referrals and starts (:mod:`~simsib.model.referrals`), the
people of a chunk (:mod:`~simsib.model.people`), the outcome processes that turn people into
treated and counterfactual paths (:mod:`~simsib.model.processes` -- the plug-in point for a
new process), and the aggregates they return (:mod:`~simsib.model.outcomes`).

May import :mod:`simsib.scenario` only.  Stages are pure functions of arrays and Generators.
"""
