"""Examples for the scenario reference (:mod:`simsib.scenario.reference`): one per table, and one
of every parameter form of every distribution family."""

from __future__ import annotations

# One example per table; together (with the first mechanism) they make a valid scenario, which
# tests/test_loader.py checks.  Each shows a different way of writing numbers.
SECTION_EXAMPLES: dict[str, str] = {
    "meta": '''[meta]
name = "essex-weak-effect"
description = "Essex, with the START trial's null result weighted more heavily."
sources = ["E1", "E20", "E22"]
reference_moic = 1.45''',
    "simulation": '''[simulation]
draws = 20000
chunk_size = 1000''',
    "referrals": '''[referrals]
service_end_month = { value = 60, source = "E4: five operational years" }
teams = 2
team_start_delay_months = { dist = "uniform", low = 0, high = 6, source = "E33" }
therapists_per_team = 4
caseload_per_therapist = 4
months_per_case = 4
referrals_per_month = { dist = "lognormal", median = 9, sigma = 0.2, source = "E33" }
referral_dispersion = 5
referral_conversion = { dist = "beta", a = 13, b = 7, source = "E32" }
ramp_initial_fraction = { dist = "beta", mean = 0.33, concentration = 6, source = "E33" }
ramp_months = { dist = "triangular", low = 6, mode = 12, high = 24, source = "E33" }
target_young_people = 380''',
    "population": '''[population]
age_at_start = { dist = "categorical", values = [13, 14, 15, 16], weights = [0.2, 0.3, 0.3, 0.2], source = "judgement: edge-of-care referrals peak at 14-15" }
p30_entry = { dist = "beta", p05 = 0.4, p95 = 0.75, source = "E40" }
weibull_shape = { dist = "uniform", low = 0.7, high = 1.0, source = "E41" }''',
    "effect": '''[effect]
log_hazard_ratio = { dist = "mixture", weights = [0.6, 0.4], components = [
    { dist = "normal", mean = 0.223, sd = 0.25, source = "E20: START trial" },
    { dist = "normal", mean = -0.478, sd = 0.25, source = "E22: community effectiveness" },
], source = "E26" }
duration_months = { dist = "lognormal", p05 = 9, p95 = 60, source = "E27" }
completion_rate = { dist = "beta", a = 17, b = 3, source = "E31" }
non_completer_effect_share = { value = 0.5, source = "judgement: half the log-hazard effect" }''',
    "care": '''[care]
short_stay_share = { dist = "beta", a = 8, b = 12, source = "E43" }
short_stay_median_months = 1.4
short_stay_sigma = 0.9
long_stay_median_months = 24
long_stay_sigma = 0.6
reentry_probability = { dist = "beta", a = 7, b = 13, source = "E44" }
reentry_gap_mean_months = 22.6
la_foster_weekly_cost = 600
ifa_foster_weekly_cost = 850
residential_weekly_cost = 3000
residential_share = { dist = "beta", a = 4, b = 16, source = "E46" }
ifa_share_of_fostering = { dist = "beta", a = 8, b = 12, source = "E46" }''',
    "cohorts.care": '''[[cohorts]]
name = "edge_of_care"
process = "care"
share = { value = 0.6, source = "judgement: most referrals are on the edge of care" }

[[cohorts]]
name = "reunification"
process = "care"
share = 0.2
starts_in_care = true

[cohorts.population]
age_at_start = { dist = "categorical", values = [12, 13, 14, 15, 16], weights = [0.1, 0.2, 0.3, 0.25, 0.15] }
p30_exit = { dist = "beta", a = 10, b = 10, source = "judgement: half return home within 30 months" }''',
    "cohorts.recurrent_events": '''[[cohorts]]
name = "released"
process = "recurrent_events"
share = 0.1
age_at_start = { dist = "categorical", values = [18, 25, 35], weights = [0.3, 0.4, 0.3] }
events_per_year = { dist = "lognormal", median = 1.0, sigma = 0.25, source = "judgement: illustrative" }
rate_dispersion = 1.5
log_rate_ratio = { dist = "normal", mean = -0.08, sd = 0.08, source = "judgement: illustrative" }
comparison_group_size = { value = 5000, source = "E62: a matched comparison group" }
cost_per_event = 5_000''',
    "cohorts.attainment": '''[[cohorts]]
name = "care_leavers"
process = "attainment"
share = 0.1
age_at_start = { dist = "categorical", values = [16, 17, 18], weights = [0.3, 0.4, 0.3] }
age_limit_years = 25

[[cohorts.outcomes]]
name = "job_start"
probability = { dist = "beta", a = 5, b = 15, source = "judgement: illustrative" }
within_months = 24
log_hazard_ratio = { dist = "normal", mean = 0.26, sd = 0.25, source = "judgement: illustrative" }
value = 1_000

[[cohorts.outcomes]]
name = "job_26_weeks"
after = "job_start"
delay_months = 6
probability = 0.5''',
    "contract": '''[contract]
tracking_months = { value = 30, source = "E6, E7" }
measurement_end_month = 96
cap = { value = 7_200_000, source = "E2" }
payment_lag_quarters = 1
netting = "contract"
council_management_cost_per_quarter = 10_000''',
    "contract.mechanisms.days_saved_vs_baseline": '''[[contract.mechanisms]]
type = "days_saved_vs_baseline"
price_per_day = { value = 75, source = "E8" }
baseline_care_proportion = { value = 0.55, source = "E6" }''',
    "contract.mechanisms.days_out_of_care": '''[[contract.mechanisms]]
type = "days_out_of_care"
price_per_day = 40
deadweight_share = { value = 0.33, source = "E50" }''',
    "contract.mechanisms.milestone": '''[[contract.mechanisms]]
type = "milestone"
price = 5_000
block_days = 364
repeat = false''',
    "contract.mechanisms.engagement": '''[[contract.mechanisms]]
type = "engagement"
price_per_person = 1_000
on = "completion"''',
    "contract.mechanisms.point_in_time": '''[[contract.mechanisms]]
type = "point_in_time"
at_day = { value = 98, source = "E61: 14 weeks" }
price_per_person = 1_500
cohorts = ["edge_of_care", "reunification"]''',
    "contract.mechanisms.events_avoided": '''[[contract.mechanisms]]
type = "events_avoided"
price_per_event = 20_000
cohort_threshold = { value = 0.10, source = "E62" }
overall_threshold = { value = 0.075, source = "E62" }
results_lag_months = 3''',
    "contract.mechanisms.rate_card": '''[[contract.mechanisms]]
type = "rate_card"
cap_per_person = 6_000

[[contract.mechanisms.items]]
outcome = "job_start"
price = { value = 1_500, source = "E67: £110-£4,730 per outcome" }

[[contract.mechanisms.items]]
outcome = "job_26_weeks"
price = 4_730
cap = 200_000''',
    "contract.payers": '''[[contract.payers]]
name = "council"
share = 0.8

[[contract.payers]]
name = "top_up_fund"
share = 0.2
cap = { value = 1_000_000, source = "E58: a national top-up fund" }''',
    "contract.reviews": '''[[contract.reviews]]
month = 36
measure = "young_people_started"
when = "below"
threshold = 120
action = "terminate"
source = "judgement: a service that cannot recruit is stopped at its three-year review (E66)"''',
    "contract.termination": '''[contract.termination]
outstanding_payments = "paid"
source = "E64: early-termination terms"''',
    "contract.termination.early_redemption": '''[[contract.termination.early_redemption]]
from_month = 36
fraction = 0.75''',
    "spv": '''[spv]
capital_committed = { value = 3_130_000, source = "E1" }
team_cost_per_quarter = 100_000
cost_per_young_person = 1_500
management_fee_per_quarter = 25_000
upfront_fees = 100_000
reserve = 250_000
distributions_from_month = 66
discount_rate = 0.035
target_return = 0.083
cash_interest_rate = { value = 0.01, source = "judgement: a deposit account" }''',
    "spv.tranches": '''[[spv.tranches]]
name = "senior"
commitment = { value = 2_130_000, source = "judgement: two thirds senior" }
priority = "senior"
coupon = { value = 0.05, source = "E55: typical targets 4-7% a year" }
upside_share = 0.0

[[spv.tranches]]
name = "first_loss"
commitment = 1_000_000
priority = "junior"
upside_share = 1.0
source = "E65: a class with all of its principal at risk"''',
    "spv.tranches.return_grid": '''[spv.tranches.return_grid]
measure = "care_proportion_treated"
thresholds = [0.10, 0.20, 0.30]
returns = [0.15, 0.10, 0.05, 0.0]
source = "E64: returns set by the outcome rate"''',
    "spv.guarantees": '''[[spv.guarantees]]
guarantor = "foundation"
tranche = "senior"
share = { value = 0.75, source = "E63" }
limit = 1_500_000
paid_at = "final_distribution"''',
    "spv.drawdown": '''[spv.drawdown]
rule = "schedule"
source = "judgement: capital called a year at a time"''',
    "spv.drawdown.schedule": '''[[spv.drawdown.schedule]]
month = 0
share = 0.5

[[spv.drawdown.schedule]]
month = 12
share = 0.5''',
    "spv.provider_risk": '''[spv.provider_risk]
share = { value = 0.1, source = "judgement: a tenth of the provider's fee at risk" }
paid = "after_capital"''',
    "commissioning": '''[commissioning]
provider_financing_rate = { value = 0.07, source = "E10, E55: at-risk capital for outcomes contracts, 4-8% a year" }
direct_management_cost_per_quarter = { value = 5_000, source = "judgement: a block contract needs no outcome measurement (E18)" }''',
    "correlations": '''[[correlations]]
between = ["referrals.ramp_months", "effect.completion_rate"]
rank = -0.3
source = "judgement: a service slow to embed also keeps fewer families engaged (E18)"''',
    "stress": '''[stress.late-start]
description = "Both teams start a year late."
set = { "referrals.team_start_delay_months" = 12 }''',
}

# An example of every parameter form of every family (checked by tests/test_loader.py).
FAMILY_EXAMPLES: dict[str, list[str]] = {
    "fixed": ['0.5', '{ value = 0.5, source = "E5" }', '{ dist = "fixed", value = 0.5 }'],
    "uniform": ['{ dist = "uniform", low = 0, high = 6 }'],
    "triangular": ['{ dist = "triangular", low = 6, mode = 12, high = 24 }'],
    "normal": ['{ dist = "normal", mean = -0.478, sd = 0.25 }', '{ dist = "normal", mean = 0.8, sd = 0.3, low = 0, high = 1 }'],
    "lognormal": ['{ dist = "lognormal", mu = 3.18, sigma = 0.6 }', '{ dist = "lognormal", median = 24, sigma = 0.6 }',
                  '{ dist = "lognormal", p05 = 9, p95 = 60 }'],
    "beta": ['{ dist = "beta", a = 17, b = 3 }', '{ dist = "beta", mean = 0.85, concentration = 20 }',
             '{ dist = "beta", p05 = 0.4, p95 = 0.75 }'],
    "gamma": ['{ dist = "gamma", shape = 4, scale = 2.5 }', '{ dist = "gamma", mean = 10, sd = 5 }'],
    "weibull": ['{ dist = "weibull", shape = 0.85, scale = 40 }'],
    "negative_binomial": ['{ dist = "negative_binomial", mean = 9, dispersion = 5 }'],
    "poisson": ['{ dist = "poisson", mean = 9 }'],
    "categorical": ['{ dist = "categorical", values = [14, 15, 16], weights = [0.3, 0.4, 0.3] }'],
    "mixture": ['{ dist = "mixture", weights = [0.7, 0.3], components = [{ dist = "beta", a = 12, b = 8 }, 0.1] }'],
}
