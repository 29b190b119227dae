"""Money: what the contract pays for outcomes, and where the cash goes.

Holds the payment mechanisms (:mod:`~simsib.contract.mechanisms` -- the plug-in point for a
new mechanism), netting, caps and lags (:mod:`~simsib.contract.payments`), the SPV's costs
(:mod:`~simsib.contract.costs`) and quarterly cash waterfall (:mod:`~simsib.contract.waterfall`),
cash-flow arithmetic (:mod:`~simsib.contract.finance`, with the IRR solver standing alone in
:mod:`~simsib.contract.irr`) and the per-draw metrics (:mod:`~simsib.contract.metrics`).

May import :mod:`simsib.model` and :mod:`simsib.scenario`.  Pure functions of arrays.
"""
