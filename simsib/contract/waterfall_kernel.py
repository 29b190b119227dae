"""The compiled SPV waterfall: a loop over draws and quarters (see :mod:`simsib.contract.waterfall`
for the steps and conventions).

Compiled because the quarters of a draw are sequential: numpy could only loop over them in
Python.  Per draw, the state of each tranche ``k`` is kept in small arrays:

* ``outstanding[k]``: capital drawn and not yet returned (£);
* ``accrued[k]``: coupon accrued and not yet paid (£; negative when the commissioner's minimum
  coupons have paid ahead of it);
* ``room[k]``: for a tranche with a return cap, the future value at the cap rate of its net cash
  flows so far -- what it may still receive without its IRR passing the cap (£).

With one tranche, no coupon, cap, interest, provider deferral or early redemption, the arithmetic
on the SPV's aggregate arrays is operation for operation the single-class waterfall simsib always
had (tests/test_tranches.py checks it bit for bit).
"""

from __future__ import annotations

import numpy as np
from numba import njit

CAPITAL_FIRST, BY_TRANCHE = 0, 1
ORDERS = {"capital_first": CAPITAL_FIRST, "by_tranche": BY_TRANCHE}
BEFORE_CAPITAL, AFTER_CAPITAL, AFTER_COUPONS, NO_PROVIDER = 0, 1, 2, 3
PROVIDER_POSITIONS = {"before_capital": BEFORE_CAPITAL, "after_capital": AFTER_CAPITAL, "after_coupons": AFTER_COUPONS}
N_PRIORITIES = 3
_CAPITAL, _COUPON = 0, 1
SHORT_TOLERANCE = 1e-6  # £ of costs left unpaid that count as a short quarter


@njit(cache=True)
def _split_draw(amount, d, q, commitment, committed, tr_drawn, outstanding, room):
    """Draw ``amount`` from the tranches pro rata to their commitments (the last takes the rest,
    so the parts add up to ``amount``)."""
    n_tranches = commitment.shape[1]
    given = 0.0
    for k in range(n_tranches):
        part = amount - given if k == n_tranches - 1 else amount * (commitment[d, k] / committed)
        given += part
        tr_drawn[d, k, q] += part
        outstanding[k] += part
        room[k] += part


@njit(cache=True)
def _tier(amount, level, kind, d, q, priority, outstanding, accrued, room, has_cap, tr_dist, tr_capital_back, claims):
    """Pay the capital (or coupon) claims of the tranches of one priority, pro rata to their
    claims, from ``amount``; returns what is left."""
    n_tranches = priority.shape[0]
    total = 0.0
    for k in range(n_tranches):
        claim = 0.0
        if priority[k] == level:
            claim = outstanding[k] if kind == _CAPITAL else max(accrued[k], 0.0)
            if has_cap[k]:
                claim = min(claim, max(room[k], 0.0))
        claims[k] = claim
        total += claim
    if total <= 0.0 or amount <= 0.0:
        return amount
    full = amount >= total
    ratio = 1.0 if full else amount / total
    paid = 0.0
    for k in range(n_tranches):
        part = claims[k] if full else claims[k] * ratio
        if part <= 0.0:
            continue
        paid += part
        tr_dist[d, k, q] += part
        room[k] -= part
        if kind == _CAPITAL:
            outstanding[k] -= part
            tr_capital_back[d, k] += part
        else:
            accrued[k] -= part
    return max(amount - paid, 0.0)


@njit(cache=True)
def _residual(amount, d, q, upside, room, has_cap, tr_dist):
    """Share ``amount`` by upside share among tranches with room under their caps (a tranche that
    reaches its cap passes the rest of its share to the others); returns what no one may take."""
    n_tranches = upside.shape[1]
    for _ in range(n_tranches):
        if amount <= 0.0:
            break
        shares = 0.0
        for k in range(n_tranches):
            if upside[d, k] > 0.0 and (not has_cap[k] or room[k] > 0.0):
                shares += upside[d, k]
        if shares <= 0.0:
            break
        given = 0.0
        capped = False
        for k in range(n_tranches):
            if upside[d, k] > 0.0 and (not has_cap[k] or room[k] > 0.0):
                part = amount * upside[d, k] / shares
                if has_cap[k] and part >= room[k]:
                    part = room[k]
                    capped = True
                tr_dist[d, k, q] += part
                room[k] -= part
                given += part
        amount = max(amount - given, 0.0)
        if not capped:
            break
    return amount


@njit(cache=True)
def _pay_provider(amount, claim):
    part = min(amount, max(claim, 0.0))
    return part, amount - part


@njit(cache=True)
def waterfall_kernel(received, owed, deferred, call_share, commitment, priority, coupon_q, cap_q, has_cap, upside,
                     min_coupon_q, min_coupon_quarters, reserve, fee, idle_rate_q, first_distribution, final_q,
                     planned_final, decided_q, redemption, order, provider_position,
                     drawn, paid_costs, distributed, cash_end, first_short, interest, provider_paid, excess, topup,
                     tr_drawn, tr_dist, tr_min_coupon, tr_capital_back):
    """Fill the zeroed outputs draw by draw; ``first_short`` starts at n_quarters.

    Shapes: (n, T) for received, owed, deferred, call_share and the SPV's outputs; (n, K) for the
    tranches' terms (commitment, quarterly rates, normalised upside shares) and capital returned;
    (K,) for priority (0 senior … 2 junior), has_cap and min_coupon_quarters; (n,) for the rest;
    (n, K, T) for the tranches' drawn, distributed and minimum-coupon flows.
    """
    n, n_quarters = received.shape
    n_tranches = commitment.shape[1]
    outstanding = np.zeros(n_tranches)
    accrued = np.zeros(n_tranches)
    room = np.zeros(n_tranches)
    claims = np.zeros(n_tranches)
    present = np.zeros(N_PRIORITIES, dtype=np.bool_)
    for k in range(n_tranches):
        present[priority[k]] = True
    for d in range(n):
        # Which steps this draw needs: most scenarios have one class and no coupons at all.
        coupons = False
        for k in range(n_tranches):
            if coupon_q[d, k] != 0.0 or (min_coupon_quarters[k] > 0 and min_coupon_q[d, k] != 0.0):
                coupons = True
        plain = n_tranches == 1 and not has_cap[0] and provider_position == NO_PROVIDER and not coupons
        committed = 0.0
        for k in range(n_tranches):
            committed += commitment[d, k]
            outstanding[k] = 0.0
            accrued[k] = 0.0
            room[k] = 0.0
        cash = 0.0
        drawn_total = 0.0
        received_total = 0.0
        to_investors = 0.0  # everything investors have had: distributions and minimum coupons
        provider_owed = 0.0
        provider_total = 0.0
        last = final_q[d]
        for q in range(last + 1):
            if q > 0:
                if idle_rate_q[d] != 0.0:
                    earned = cash * idle_rate_q[d]
                    interest[d, q] = earned
                    cash += earned
                for k in range(n_tranches):
                    if has_cap[k]:
                        room[k] += room[k] * cap_q[d, k]
                    if not coupons:
                        continue
                    minimum = q <= min_coupon_quarters[k]
                    rate = coupon_q[d, k]
                    if minimum and min_coupon_q[d, k] > rate:
                        rate = min_coupon_q[d, k]
                    if rate != 0.0:  # compounding on capital and unpaid coupon of the quarter before
                        accrued[k] += (outstanding[k] + max(accrued[k], 0.0)) * rate
                    if minimum and min_coupon_q[d, k] != 0.0:  # the commissioner pays it in cash
                        paid_min = outstanding[k] * min_coupon_q[d, k]
                        tr_min_coupon[d, k, q] = paid_min
                        accrued[k] -= paid_min
                        room[k] -= paid_min
                        to_investors += paid_min
            cash = cash + received[d, q]
            received_total += received[d, q]
            provider_owed += deferred[d, q]
            call = call_share[d, q] * committed - drawn_total  # capital called at close or on schedule
            if call > 0.0:
                cash += call
                drawn[d, q] += call
                drawn_total += call
                _split_draw(call, d, q, commitment, committed, tr_drawn, outstanding, room)
            draw = min(max(owed[d, q] - cash, 0.0), committed - drawn_total)
            drawn[d, q] += draw
            drawn_total += draw
            cash += draw
            if draw > 0.0:
                _split_draw(draw, d, q, commitment, committed, tr_drawn, outstanding, room)
            paying = min(owed[d, q], cash)
            paid_costs[d, q] = paying
            cash -= paying
            if owed[d, q] - paying > SHORT_TOLERANCE and first_short[d] == n_quarters:
                first_short[d] = q
            if q == last:
                if redemption[d] > 0.0:  # early-redemption floor, topped up by the commissioner
                    gap = redemption[d] * drawn_total - to_investors - cash
                    if gap > 0.0:
                        topup[d] = gap
                        cash += gap
                out = cash
            elif q >= first_distribution:
                # Hold back the fees still to come, to the end as known at this quarter.
                plan = last if q >= decided_q[d] else planned_final[d]
                fees_to_come = fee[d] * (plan - q)
                out = max(cash - reserve[d] - fees_to_come, 0.0)
            else:
                out = 0.0
            others = 0.0
            if out > 0.0 and plain:
                # One class of investors and nothing else: capital first, the rest is upside.
                part = min(out, outstanding[0])
                outstanding[0] -= part
                tr_capital_back[d, 0] += part
                tr_dist[d, 0, q] += out
            elif out > 0.0:
                left = out
                provider_q = 0.0
                # The provider's deferred fee, only ever from outcome payments received.
                claim = min(provider_owed, received_total) - provider_total
                if provider_position == BEFORE_CAPITAL:
                    part, left = _pay_provider(left, claim)
                    provider_q += part
                    claim -= part
                for level in range(N_PRIORITIES):
                    if not present[level]:
                        continue
                    left = _tier(left, level, _CAPITAL, d, q, priority, outstanding, accrued, room, has_cap,
                                 tr_dist, tr_capital_back, claims)
                    if order == BY_TRANCHE and coupons:
                        left = _tier(left, level, _COUPON, d, q, priority, outstanding, accrued, room, has_cap,
                                     tr_dist, tr_capital_back, claims)
                if provider_position == AFTER_CAPITAL:
                    part, left = _pay_provider(left, claim)
                    provider_q += part
                    claim -= part
                if order == CAPITAL_FIRST and coupons:
                    for level in range(N_PRIORITIES):
                        if present[level]:
                            left = _tier(left, level, _COUPON, d, q, priority, outstanding, accrued, room, has_cap,
                                         tr_dist, tr_capital_back, claims)
                if provider_position == AFTER_COUPONS:
                    part, left = _pay_provider(left, claim)
                    provider_q += part
                left = _residual(left, d, q, upside, room, has_cap, tr_dist)
                provider_total += provider_q
                provider_paid[d, q] = provider_q
                excess[d, q] = left
                others = provider_q + left
            distributed[d, q] = out
            cash -= out
            cash_end[d, q] = cash
            if others > 0.0:
                distributed[d, q] = out - others
            to_investors += distributed[d, q]
