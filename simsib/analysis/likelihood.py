"""The observation model: how a published figure relates to the same figure in a simulated draw.

A re-forecast weights each prior draw by the probability of the observed figures given that
draw's simulated path.  A simulated path is one realisation; the published figure is treated as
that draw's figure measured with error.  The error models (judgement, documented in
``docs/observations.md``; any row can replace them with its own ``sd``):

* **counts** (referrals, starts, completions, payments made): negative binomial with mean the
  draw's count ``x`` (at least :data:`COUNT_FLOOR`) and size :data:`COUNT_SIZE`, so
  ``Var = x + (COUNT_CV · x)²``: Poisson-sized noise plus 5%.  Published counts are exact, but
  their definitions differ from the model's (a "year 1" running to November, "worked with" vs
  "started", cases opened vs starts): E12's year-1 figures and E5's end figures are of this kind.
* **days and £** (care days, child-days, payments): normal with standard deviation
  ``CONTINUOUS_CV · |x| + floor`` (a month of one child's days, or £1,000), truncated at 0.
* **shares** (care proportions): normal with standard deviation :data:`SHARE_SD` (one percentage
  point), truncated to [0, 1].  The published Essex care proportion itself comes in two versions,
  10.8% and 11.92% (E6): a point is the right order for what a definition changes.
* **care days saved** may be negative: normal as days, not truncated.
* a row with ``sd``: normal with that standard deviation, truncated as its kind.

Because the figure is read as a measurement of the draw's *simulated* value, a draw's weight is
an unbiased estimate of the likelihood of its inputs under this measurement model (the path's
own randomness is averaged over by the weighting), so likelihood weighting targets the exact
posterior of the model plus measurement error.  The price: every row adds the path's own noise
to the spread of the log-weights, so many per-quarter rows can leave few effective draws (the
diagnostics say so).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from simsib.analysis.observations import Observations

COUNT_CV = 0.05
COUNT_SIZE = 1.0 / COUNT_CV**2  # negative binomial size: Var = mean + (COUNT_CV · mean)²
COUNT_FLOOR = 0.5  # a draw with none of something can still be reported as having a few
CONTINUOUS_CV = 0.05
FLOORS = {"days": 30.0, "signed_days": 30.0, "money": 1_000.0}
SHARE_SD = 0.01
BOUNDS = {"count": (0.0, np.inf), "days": (0.0, np.inf), "money": (0.0, np.inf), "share": (0.0, 1.0),
          "signed_days": (-np.inf, np.inf)}


@dataclass(frozen=True)
class RowModel:
    """The observation model of each row, as arrays over rows (shape (R,))."""

    observed: np.ndarray
    count: np.ndarray  # bool: the row is a count
    negative_binomial: np.ndarray  # bool: a count without its own sd
    fixed_sd: np.ndarray  # the row's own sd, NaN where it has none
    relative_sd: np.ndarray  # sd = relative · |x| + floor for normal rows without their own sd
    floor_sd: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, observations: Observations) -> RowModel:
        rows = observations.rows
        kinds = [row.kind for row in rows]
        own = np.array([np.nan if row.sd is None else row.sd for row in rows])
        return cls(
            observed=np.array([row.value for row in rows], dtype=float),
            count=np.array([k == "count" for k in kinds]),
            negative_binomial=np.array([k == "count" for k in kinds]) & np.isnan(own),
            fixed_sd=own,
            relative_sd=np.array([0.0 if k == "share" else CONTINUOUS_CV for k in kinds]),
            floor_sd=np.array([SHARE_SD if k == "share" else FLOORS.get(k, 0.5) for k in kinds]),
            lower=np.array([BOUNDS[k][0] for k in kinds]),
            upper=np.array([BOUNDS[k][1] for k in kinds]),
        )

    def normal_sd(self, simulated: np.ndarray) -> np.ndarray:
        """(n, R) standard deviations of the normal rows (ignored for negative binomial rows)."""
        modelled = self.relative_sd * np.abs(simulated) + self.floor_sd
        return np.where(np.isnan(self.fixed_sd), modelled, self.fixed_sd)


def _count_mean(simulated: np.ndarray) -> np.ndarray:
    return np.maximum(simulated, COUNT_FLOOR)


def _log_mass(lower_z: np.ndarray, upper_z: np.ndarray) -> np.ndarray:
    """log(Φ(upper_z) − Φ(lower_z)), stable in both tails."""
    upper_tail = lower_z > 0  # both far in the upper tail: use the survival functions
    lo = np.where(upper_tail, -upper_z, lower_z)
    hi = np.where(upper_tail, -lower_z, upper_z)
    log_hi, log_lo = special.log_ndtr(hi), special.log_ndtr(lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        return log_hi + np.log1p(-np.exp(np.minimum(log_lo - log_hi, 0.0)))


def log_likelihood(model: RowModel, simulated: np.ndarray) -> np.ndarray:
    """log p(observed row | draw), shape (n, R); −inf where a draw cannot show the figure (NaN)."""
    y = model.observed
    out = np.empty_like(simulated, dtype=float)
    nb = model.negative_binomial
    if nb.any():
        mean = _count_mean(simulated[:, nb])
        r = COUNT_SIZE
        yn = y[nb]
        out[:, nb] = (special.gammaln(yn + r) - special.gammaln(r) - special.gammaln(yn + 1.0)
                      + r * np.log(r / (r + mean)) + yn * np.log(mean / (r + mean)))
    normal = ~nb
    if normal.any():
        x = simulated[:, normal]
        sd = model.normal_sd(simulated)[:, normal]
        z = (y[normal] - x) / sd
        mass = _log_mass((model.lower[normal] - x) / sd, (model.upper[normal] - x) / sd)
        out[:, normal] = -0.5 * z**2 - 0.5 * np.log(2.0 * np.pi) - np.log(sd) - mass
    return np.where(np.isnan(simulated), -np.inf, out)


def standardised_residuals(model: RowModel, simulated: np.ndarray) -> np.ndarray:
    """(observed − mean) ÷ sd under each draw's observation model, (n, R); inf where NaN."""
    y = model.observed
    mean = np.where(model.negative_binomial, _count_mean(simulated), simulated)
    variance = np.where(model.negative_binomial, mean + mean**2 / COUNT_SIZE, model.normal_sd(simulated) ** 2)
    z = (y - mean) / np.sqrt(variance)
    return np.where(np.isnan(simulated), np.inf, z)


def measure(model: RowModel, simulated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Figures drawn from the observation model around ``simulated`` (n, R): what a report of
    each draw would publish.  Used to make synthetic observations for calibration checks."""
    out = np.empty_like(simulated, dtype=float)
    nb = model.negative_binomial
    if nb.any():
        mean = _count_mean(simulated[:, nb])
        out[:, nb] = rng.negative_binomial(COUNT_SIZE, COUNT_SIZE / (COUNT_SIZE + mean))
    normal = ~nb
    if normal.any():
        x = simulated[:, normal]
        sd = model.normal_sd(simulated)[:, normal]
        # Inverse CDF between the bounds: exactly the truncated normal.
        lo, hi = special.ndtr((model.lower[normal] - x) / sd), special.ndtr((model.upper[normal] - x) / sd)
        u = lo + (hi - lo) * rng.random(x.shape)
        out[:, normal] = x + sd * special.ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))
    # A count with its own sd is measured on the normal scale; a report still gives whole numbers.
    return np.where(model.count & ~nb, np.round(out), out)


def predictive_tail(model: RowModel, simulated: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Two-sided tail probability of each observed figure under the (weighted) draws' predictive
    distribution -- the draws' simulated values plus measurement error -- shape (R,).

    ``2 · min(F, 1 − F)`` with the mid-distribution function ``F = P(Y < y) + ½ P(Y = y)``; near 0
    means the draws barely explain the figure (prior-data conflict when the draws are the prior).
    """
    n = simulated.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else weights
    y = model.observed
    cdf = np.empty_like(simulated, dtype=float)
    nb = model.negative_binomial
    if nb.any():
        mean = _count_mean(simulated[:, nb])
        p = COUNT_SIZE / (COUNT_SIZE + mean)
        # P(Y ≤ y − 1) of a negative binomial is the regularised incomplete beta I_p(r, y).
        below = np.where(y[nb] >= 1, special.betainc(COUNT_SIZE, np.maximum(y[nb], 1.0), p), 0.0)
        at = np.exp(special.gammaln(y[nb] + COUNT_SIZE) - special.gammaln(COUNT_SIZE) - special.gammaln(y[nb] + 1)
                    + COUNT_SIZE * np.log(p) + y[nb] * np.log1p(-p))
        cdf[:, nb] = below + 0.5 * at
    normal = ~nb
    if normal.any():
        x = simulated[:, normal]
        sd = model.normal_sd(simulated)[:, normal]
        lo, hi = special.ndtr((model.lower[normal] - x) / sd), special.ndtr((model.upper[normal] - x) / sd)
        at_y = special.ndtr((y[normal] - x) / sd)
        cdf[:, normal] = np.clip((at_y - lo) / np.maximum(hi - lo, 1e-300), 0.0, 1.0)
    cdf = np.where(np.isnan(simulated), np.nan, cdf)
    defined = ~np.isnan(cdf)
    total = (w[:, None] * defined).sum(axis=0)
    mid = np.where(total > 0, (w[:, None] * np.nan_to_num(cdf)).sum(axis=0) / np.where(total > 0, total, 1.0), 0.5)
    return np.where(total > 0, 2.0 * np.minimum(mid, 1.0 - mid), 0.0)


def measurement_variance(model: RowModel, simulated: np.ndarray) -> np.ndarray:
    """Variance of each row's measurement error around ``simulated`` values (..., R)."""
    mean = _count_mean(simulated)
    return np.where(model.negative_binomial, mean + mean**2 / COUNT_SIZE, model.normal_sd(simulated) ** 2)


@dataclass(frozen=True)
class SyntheticLikelihood:
    """A moment-matched Gaussian likelihood of the observed rows given a draw's inputs.

    Each draw's inputs are simulated along ``R`` paths; the observed rows are taken to be
    Gaussian with the paths' mean ``m`` and variance ``s² = v·(1 + 1/R) + e(m)``: ``v`` the
    paths' variance, ``v/R`` the uncertainty of ``m`` itself, ``e`` the measurement error's
    variance (the observation model above) -- the Bayesian synthetic likelihood of Wood (2010)
    and Price, Drovandi, Lee & Nott (2018).  Rows are correlated (a count to date and the next
    are nearly the same figure): the standardised residuals share one correlation matrix,
    pooled over the prior draws' paths with measurement error added.  Approximations: the
    Gaussian shape (counts, caps and truncation ignored) and one correlation for every draw.
    What it buys: the path's own randomness no longer scatters the weights, so draws whose
    inputs fit are weighted for their inputs, not for their luck.
    """

    model: RowModel
    cholesky: np.ndarray  # (rows, rows) lower, of the pooled correlation
    paths: int

    def moments(self, simulated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sd), each (n, rows), of ``simulated`` (n, R, rows); NaN where no path shows a row."""
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN mean, as intended
            mean = np.nanmean(simulated, axis=1)
            valid = (~np.isnan(simulated)).sum(axis=1)
            variance = np.where(valid > 1, np.nanvar(simulated, axis=1, ddof=1), 0.0)
        spread = np.nan_to_num(variance) * (1.0 + 1.0 / max(self.paths, 1)) + measurement_variance(self.model, mean)
        return mean, np.sqrt(spread)

    def residuals(self, simulated: np.ndarray) -> np.ndarray:
        """(observed − mean) ÷ sd, (n, rows); inf where no path shows the row."""
        mean, sd = self.moments(simulated)
        return np.where(np.isnan(mean), np.inf, (self.model.observed - mean) / sd)

    def log_likelihood(self, simulated: np.ndarray) -> np.ndarray:
        """log N(observed; mean, s·C·s) per draw, (n,); −inf where a row cannot be shown."""
        mean, sd = self.moments(simulated)
        z = np.where(np.isnan(mean), 0.0, (self.model.observed - mean) / sd)
        whitened = z @ np.linalg.inv(self.cholesky).T
        rows = z.shape[1]
        out = (-0.5 * (whitened**2).sum(axis=1) - np.log(sd).sum(axis=1)
               - np.log(np.diag(self.cholesky)).sum() - 0.5 * rows * np.log(2.0 * np.pi))
        return np.where(np.isnan(mean).any(axis=1), -np.inf, out)

    def row_log_likelihood(self, simulated: np.ndarray) -> np.ndarray:
        """Each row's own (marginal) Gaussian log-density, (n, rows): for reporting by series."""
        mean, sd = self.moments(simulated)
        z = (self.model.observed - mean) / sd
        return np.where(np.isnan(mean), -np.inf, -0.5 * z**2 - np.log(sd) - 0.5 * np.log(2.0 * np.pi))


CORRELATION_DRAWS = 2000  # draws whose paths estimate the pooled correlation (tens of thousands of paths)


def fit_synthetic(model: RowModel, simulated: np.ndarray, rng: np.random.Generator) -> SyntheticLikelihood:
    """The synthetic likelihood of ``model``'s rows, its correlation pooled over the paths of the
    first :data:`CORRELATION_DRAWS` draws of ``simulated`` (n, R, rows): every path measured with
    error (:func:`measure`) and standardised by its draw's moments."""
    paths = simulated.shape[1]
    simulated = simulated[:CORRELATION_DRAWS]
    bare = SyntheticLikelihood(model, np.eye(simulated.shape[2]), paths)
    mean, sd = bare.moments(simulated)
    flat = simulated.reshape(-1, simulated.shape[2])
    measured = measure(model, np.nan_to_num(flat), rng).reshape(simulated.shape)
    residual = np.where(np.isnan(simulated), 0.0, (measured - mean[:, None, :]) / sd[:, None, :])
    residual = np.nan_to_num(residual).reshape(-1, simulated.shape[2])
    rows = residual.shape[1]
    if rows == 1 or residual.shape[0] < 3:
        return bare
    correlation = np.corrcoef(residual, rowvar=False)
    correlation = np.where(np.isfinite(correlation), correlation, 0.0)
    np.fill_diagonal(correlation, 1.0)
    # Nearly collinear rows (a count to date at two close months): keep the matrix invertible.
    return SyntheticLikelihood(model, np.linalg.cholesky(correlation + 1e-6 * np.eye(rows)), paths)
