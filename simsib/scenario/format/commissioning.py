"""Section ``[commissioning]``: what the council's alternatives to the SIB cost (issue 21).

``simsib commission`` sets the SIB as contracted beside three alternatives on the same simulated
young people: commissioning the same service directly, payment by results without investors,
and doing nothing.  The SIB's own terms are in ``[contract]`` and ``[spv]``; this table holds
only what the alternatives need beyond them.  ``simsib run`` never reads it.
"""

from __future__ import annotations

from pydantic import Field

from simsib.scenario.format.fields import Money, Section, bounded


class Commissioning(Section):
    """The council's alternatives to the SIB, read by `simsib commission` only: direct commissioning and
    payment by results without investors."""

    provider_financing_rate: bounded(0.0, 0.5, "an annual financing rate") = Field(
        default=0.07,
        description="Payment by results without investors: the annual rate at which the provider finances the "
        "working capital it carries until outcome payments repay it (0.07 is 7%); charged quarterly on the "
        "provider's borrowed balance.  Default 0.07 (judgement: at-risk capital for an outcomes contract, near "
        "E10's 8.3% launch return and E55's typical 4-7%).",
    )
    direct_management_cost_per_quarter: Money | None = Field(
        default=None,
        description="Direct commissioning: the council's own cost of managing the directly commissioned service, "
        "£ a quarter, while the teams run.  Default (none): contract.council_management_cost_per_quarter, the "
        "SIB's, which leaves the SIB no handicap for its 'invisible costs' (E18).",
    )
