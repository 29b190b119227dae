"""The scenario format: typed, immutable, validated description of one SIB and its evidence.

A scenario is a TOML file.  Wherever it takes a real number it can take a distribution
(``simsib.scenario.distributions``); structural settings that shape the simulation's arrays (counts of
teams, months of windows, payment lags) are integers, optionally written with their source as
``{ value = 30, source = "E6" }``.  Times are months from contract start, money is £.

Loading (``simsib.scenario.loader``) reads the file, resolves ``extends`` and ``--set`` overrides, and
validates the merged table into :class:`Scenario`.  This module only declares the format.
"""

from simsib.scenario.format.cohorts import AttainmentCohort, AttainmentOutcome, CareCohort, Cohort, RecurrentCohort  # noqa: F401
from simsib.scenario.format.commissioning import Commissioning  # noqa: F401
from simsib.scenario.format.consistency import (  # noqa: F401
    IMPLICIT_COHORT,
    ResolvedCohort,
    paid_cohorts,
    resolve_cohorts,
    result_month,
)
from simsib.scenario.format.contract import (  # noqa: F401
    Contract,
    DaysOutOfCare,
    DaysSavedVsBaseline,
    Engagement,
    EventsAvoided,
    Mechanism,
    Milestone,
    Payer,
    PointInTime,
    RateCard,
    RateCardItem,
)
from simsib.scenario.format.delivery import Meta, Referrals, Simulation  # noqa: F401
from simsib.scenario.format.fields import (  # noqa: F401
    MAX_MONEY,
    MAX_MONTHS,
    Count,
    Expects,
    Money,
    Months,
    Number,
    Probability,
    Source,
    StructMonths,
)
from simsib.scenario.format.people import Care, Effect, Population  # noqa: F401
from simsib.scenario.format.scenario import Correlation, Scenario, Stress, all_quantities, per_draw_quantities  # noqa: F401
from simsib.scenario.format.spv import SPV  # noqa: F401
