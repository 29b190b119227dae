"""The council's budget view, outcome payments by financial year: computed at run time by
:mod:`simsib.run.budget` (``summary.json``'s ``council.payments_by_year``), re-exported here
for the live view and the report."""

from simsib.run.budget import FINANCIAL_YEAR_FIRST_MONTH, YEAR_PERCENTILES, payments_by_year, quarter_years

__all__ = ["FINANCIAL_YEAR_FIRST_MONTH", "YEAR_PERCENTILES", "payments_by_year", "quarter_years"]
