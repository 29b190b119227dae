"""The council's money under other ways of commissioning the same service: pure functions of
quarterly cash flows (issue 21; :mod:`simsib.analysis.commission` assembles the options).

Conventions: money in £ at each quarter's prices, quarters from contract start, axis 0 the draw.
A council *outlay* is what it pays (outcome payments, service costs, its own management);
*savings* are the care costs it avoids.  Its *cash position* after quarter ``q`` is the running
sum of savings less outlays; its *peak cash need* is the most negative that position gets -- the
money it must find before the care avoided pays it back, if it ever does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProviderPosition:
    """A provider paid by results, carrying its own working capital, per draw (each (n_draws,) £).

    result : outcome payments less service costs less financing cost (its profit, at the end)
    financing_cost : interest paid on what it borrowed
    peak_working_capital : the most it had to borrow at a quarter end
    """

    result: np.ndarray
    financing_cost: np.ndarray
    peak_working_capital: np.ndarray


def provider_position(costs: np.ndarray, payments: np.ndarray, annual_rate: np.ndarray) -> ProviderPosition:
    """A provider that pays ``costs`` as they fall and is repaid only by ``payments``.

    Parameters
    ----------
    costs, payments : (n_draws, n_quarters) £ owed and received in each quarter
    annual_rate : (n_draws,) annual financing rate; each quarter the balance borrowed at the end of
        the quarter before accrues ``(1 + rate)^(1/4) − 1`` (cash in hand earns nothing)

    The position after quarter ``q`` is ``P[q] = P[q−1] − interest[q] + payments[q] − costs[q]``,
    ``interest[q] = r_q · max(−P[q−1], 0)``, from ``P[−1] = 0``.

    Examples
    --------
    >>> p = provider_position(np.array([[100.0, 100.0, 0.0]]), np.array([[0.0, 0.0, 250.0]]), np.array([0.0]))
    >>> float(p.result[0]), float(p.peak_working_capital[0])
    (50.0, 200.0)
    """
    costs = np.asarray(costs, dtype=float)
    payments = np.asarray(payments, dtype=float)
    quarterly = (1.0 + np.asarray(annual_rate, dtype=float)) ** 0.25 - 1.0
    position = np.zeros(costs.shape[0])
    financing = np.zeros(costs.shape[0])
    peak = np.zeros(costs.shape[0])
    for q in range(costs.shape[1]):
        interest = quarterly * np.maximum(-position, 0.0)
        financing += interest
        position = position - interest + payments[:, q] - costs[:, q]
        peak = np.maximum(peak, -position)
    return ProviderPosition(result=position, financing_cost=financing, peak_working_capital=peak)


def cash_need(outlays: np.ndarray, savings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The council's peak cash need and the quarter it is reached, per draw.

    Parameters
    ----------
    outlays, savings : (n_draws, n_quarters) £ paid and care costs avoided in each quarter (the
        shorter is taken as zero beyond its end)

    Returns
    -------
    peak : (n_draws,) £, ``max(0, max_q Σ_{k≤q} (outlays − savings)[k])``
    quarter : (n_draws,) the first quarter at which the peak is reached; NaN when nothing is needed

    Examples
    --------
    >>> peak, when = cash_need(np.array([[50.0, 50.0, 0.0]]), np.array([[0.0, 20.0, 100.0]]))
    >>> float(peak[0]), float(when[0])
    (80.0, 1.0)
    """
    net = padded(outlays, savings.shape[1]) - padded(savings, outlays.shape[1])
    position = np.cumsum(net, axis=1)
    peak = np.maximum(position.max(axis=1), 0.0)
    quarter = np.where(peak > 0.0, np.argmax(position, axis=1), np.nan).astype(float)
    return peak, quarter


def padded(flows: np.ndarray, width: int) -> np.ndarray:
    """``flows`` (n, Q) with zero columns appended up to ``width`` quarters (unchanged if wider)."""
    if flows.shape[1] >= width:
        return flows
    return np.concatenate([flows, np.zeros((flows.shape[0], width - flows.shape[1]))], axis=1)


def present_value(flows: np.ndarray, discount: np.ndarray) -> np.ndarray:
    """Σ_q flows[:, q] · discount[:, q] per draw, (n_draws,); ``discount`` at least as wide as ``flows``."""
    return (flows * discount[:, : flows.shape[1]]).sum(axis=1)


def quarters_up_to(last_quarter: np.ndarray, n_quarters: int) -> np.ndarray:
    """(n_draws, n_quarters) bool: quarters ``0..last_quarter`` of each draw (none when it is −1)."""
    return np.arange(n_quarters)[None, :] <= np.asarray(last_quarter)[:, None]


def last_quarter_with(flows: np.ndarray) -> np.ndarray:
    """(n_draws,) int: the last quarter with a non-zero flow, −1 when there is none."""
    nonzero = flows != 0.0
    last = flows.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, -1)
