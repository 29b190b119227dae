"""The input language: what a scenario file may say, and how it is read.

Holds the scenario format (pydantic models, :mod:`simsib.scenario.format`), the probability
distributions any number may take (:mod:`simsib.scenario.distributions`), the loader that
resolves ``extends`` and ``--set`` (:mod:`simsib.scenario.loader`), variants built from dotted
keys (:mod:`simsib.scenario.variants`), user-facing errors (:mod:`simsib.scenario.errors`) and
the generated file reference (:mod:`simsib.scenario.reference`).

The bottom wing: it imports nothing else from simsib, and nothing heavy (no scipy, pandas,
numba or pyarrow at import time), so ``simsib validate`` and ``simsib schema`` start at once.
"""
