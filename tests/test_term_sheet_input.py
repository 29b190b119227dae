"""Broken term sheets (tranches, guarantees, drawdown, reviews, termination) through the CLI:
exit code 2, one message per problem naming the file, the dotted key, the value and what was
expected, with a "did you mean" where a name is close.  Children of the bundled Essex scenario,
whose £3.13m commitment the tranches below add up to."""

from __future__ import annotations

import pytest
import tomli_w
from test_bad_input import check_message, child, invoke

from simsib.scenario.loader import load_raw

TWO = '''
[[spv.tranches]]
name = "senior"
commitment = 2_130_000
coupon = 0.05
{senior}
[[spv.tranches]]
name = "first_loss"
commitment = 1_000_000
priority = "junior"
{junior}
'''


def two(senior: str = "", junior: str = "", more: str = "") -> str:
    return TWO.format(senior=senior, junior=junior) + more


REVIEW = '''
[[contract.reviews]]
month = {month}
measure = "{measure}"
when = "below"
threshold = 100
{extra}
'''

CASES = [
    ("guarantee of an unknown tranche",
     two(more='[[spv.guarantees]]\nguarantor = "foundation"\ntranche = "senoir"\n'),
     ["spv.guarantees.0.tranche", "'senoir' is not a tranche", "did you mean 'senior'", "choices: senior, first_loss"]),
    ("misspelt tranche key", two(senior="couponn = 0.05"),
     ["spv.tranches.0.couponn", "unknown key", "did you mean 'coupon'"]),
    ("boolean commitment", two(junior="commitment = true").replace("commitment = 1_000_000\n", "", 1)
     .replace('priority = "junior"\ncommitment = true', 'priority = "junior"\ncommitment = true'),
     ["spv.tranches.1.commitment", "True"]),
    ("commitments that disagree with capital_committed",
     two().replace("commitment = 1_000_000", "commitment = 1_500_000"),
     ["spv.capital_committed", "£3,630,000", "£3,130,000"]),
    ("two tranches of one name", two().replace('name = "first_loss"', 'name = "senior"'),
     ["spv.tranches.1.name", "'senior' names two tranches"]),
    ("upside share in one tranche only", two(senior="upside_share = 0.5"),
     ["spv.tranches", "upside_share in every tranche or in none", "missing in tranches.1"]),
    ("upside shares not adding to 1", two(senior="upside_share = 0.5", junior="upside_share = 0.7"),
     ["spv.tranches", "add up to 1.2; expected 1"]),
    ("priority not a choice", two(junior="").replace('priority = "junior"', 'priority = "first_loss"'),
     ["spv.tranches.1.priority", "'first_loss'", "senior, mezzanine, junior"]),
    ("a reserved tranche name", two().replace('name = "first_loss"', 'name = "committed"'),
     ["spv.tranches.1.name", "moic_committed", "reserved"]),
    ("tranche names whose columns coincide", two().replace('name = "first_loss"', 'name = "status_senior"'),
     ["spv.tranches.1.name", "gives the column irr_status_senior, as tranches.0.name does"]),
    ("a guarantor named like a tranche's column",
     two(more='[[spv.guarantees]]\nguarantor = "received_senior"\ntranche = "senior"\n'),
     ["spv.guarantees.0.guarantor", "guarantee_received_senior"]),
    ("a tranche name that is no column name", two().replace('name = "first_loss"', 'name = "First Loss"'),
     ["spv.tranches.1.name", "'First Loss'", "pattern"]),
    ("return cap with tranches", two(more="[spv]\nreturn_cap = 0.13\n"),
     ["spv.return_cap", "set return_cap in each tranche"]),
    ("grid with a coupon", two(senior='return_grid = { measure = "care_proportion_treated", thresholds = [0.2], '
                                      'returns = [0.1, 0.0] }'),
     ["spv.tranches.0.return_grid", "remove coupon"]),
    ("grid thresholds not increasing",
     two(junior='return_grid = { measure = "care_proportion_treated", thresholds = [0.3, 0.2], returns = [0, 0.1, 0.2] }'),
     ["spv.tranches.1.return_grid.thresholds", "increase strictly", "[0.3, 0.2]"]),
    ("grid returns of the wrong length",
     two(junior='return_grid = { measure = "care_proportion_treated", thresholds = [0.2, 0.3], returns = [0, 0.1] }'),
     ["spv.tranches.1.return_grid.returns", "expected 3 returns", "got 2"]),
    ("grid measure misspelt",
     two(junior='return_grid = { measure = "care_proportion", thresholds = [0.2], returns = [0.1, 0] }'),
     ["spv.tranches.1.return_grid.measure", "'care_proportion'", "did you mean 'care_proportion_treated'"]),
    ("drawdown rule misspelt", '[spv.drawdown]\nrule = "at_closing"\n',
     ["spv.drawdown.rule", "'at_closing'", "did you mean 'at_close'", "when_short, at_close, schedule"]),
    ("schedule rule without a schedule", '[spv.drawdown]\nrule = "schedule"\n',
     ["spv.drawdown.schedule", "at least one { month, share } call"]),
    ("schedule calls over the commitment",
     '[spv.drawdown]\nrule = "schedule"\nschedule = [{ month = 0, share = 0.7 }, { month = 12, share = 0.6 }]\n',
     ["spv.drawdown.schedule", "add up to 1.3"]),
    ("provider risk after capital, tranche by tranche",
     two(more='[spv.provider_risk]\nshare = 0.1\npaid = "after_capital"\n').replace(
         "[[spv.tranches]]", '[spv]\ndistribution_order = "by_tranche"\n[[spv.tranches]]', 1),
     ["spv.provider_risk.paid", "by_tranche", "before_capital or after_coupons"]),
    ("provider risk share above 1", '[spv.provider_risk]\nshare = 1.5\n',
     ["spv.provider_risk.share", "[0, 1]", "1.5"]),
    ("guarantee party not a choice", '[[spv.guarantees]]\nguarantor = "council"\nparty = "council"\n',
     ["spv.guarantees.0.party", "'council'", "third_party, commissioner, provider"]),
    ("guarantee share as text", '[[spv.guarantees]]\nguarantor = "g"\nshare = "most"\n',
     ["spv.guarantees.0.share", "'most'"]),
    ("review off a quarter end", REVIEW.format(month=35, measure="young_people_started", extra=""),
     ["contract.reviews.0.month", "multiple of 3", "35"]),
    ("review after the measurement ends", REVIEW.format(month=99, measure="young_people_started", extra=""),
     ["contract.reviews.0.month", "before the measurement ends (month 96)", "got 99"]),
    ("review measure misspelt", REVIEW.format(month=36, measure="young_people_starts", extra=""),
     ["contract.reviews.0.measure", "did you mean 'young_people_started'"]),
    ("extension without its months", REVIEW.format(month=36, measure="young_people_started", extra='action = "extend"'),
     ["contract.reviews.0.extend_months", "required key is missing"]),
    ("extension not in quarters", REVIEW.format(month=36, measure="young_people_started",
                                                extra='action = "extend"\nextend_months = 10'),
     ["contract.reviews.0.extend_months", "multiple of 3", "10"]),
    ("threshold as a boolean", REVIEW.format(month=36, measure="young_people_started", extra="").replace(
        "threshold = 100", "threshold = true"), ["contract.reviews.0.threshold", "True"]),
    ("early redemption out of order",
     '[contract.termination]\nearly_redemption = [{ from_month = 48, fraction = 0.75 }, { from_month = 36, fraction = 1.0 }]\n',
     ["contract.termination.early_redemption", "must increase", "[48, 36]"]),
    ("outstanding payments misspelt", '[contract.termination]\noutstanding_payments = "forfeit"\n',
     ["contract.termination.outstanding_payments", "did you mean 'forfeited'"]),
]


@pytest.mark.parametrize("case_id, text, needles", CASES, ids=[c[0] for c in CASES])
def test_validate_rejects_a_broken_term_sheet(tmp_path, case_id, text, needles):
    path = child(text)(tmp_path)
    result = invoke(["validate", str(path)])
    assert result.exit_code == 2, result.output
    check_message(result.output, path, needles)


def test_a_share_of_the_cap_needs_a_cap(tmp_path):
    review = child(REVIEW.format(month=36, measure="outcome_payments_share_of_cap", extra=""))(tmp_path)
    assert invoke(["validate", str(review)]).exit_code == 0  # Essex has a cap
    # Without one (a child cannot delete a key, so write the whole file) the review is refused.
    data = load_raw(review)
    del data["contract"]["cap"]
    path = tmp_path / "uncapped.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    result = invoke(["validate", str(path)])
    assert result.exit_code == 2
    check_message(result.output, path, ["contract.reviews.0.measure", "needs contract.cap"])


def test_every_term_sheet_problem_is_reported_at_once(tmp_path):
    text = two(senior="couponn = 0.05", more='[[spv.guarantees]]\nguarantor = "g"\ntranche = "senoir"\n'
               '[spv.drawdown]\nrule = "at_closing"\n') + REVIEW.format(month=35, measure="young_people_started", extra="")
    path = child(text)(tmp_path)
    result = invoke(["validate", str(path)])
    assert result.exit_code == 2
    for key in ("spv.tranches.0.couponn", "spv.drawdown.rule", "contract.reviews.0.month"):
        assert f"{path}: {key}:" in result.output, (key, result.output)


def test_a_valid_term_sheet_validates(tmp_path):
    text = two(senior="upside_share = 0.0", junior="upside_share = 1.0",
               more='[[spv.guarantees]]\nguarantor = "foundation"\ntranche = "senior"\nshare = 0.75\nlimit = 1e6\n'
                    '[spv.drawdown]\nrule = "schedule"\nschedule = [{ month = 0, share = 0.5 }, { month = 12, share = 0.5 }]\n'
                    '[spv.provider_risk]\nshare = 0.1\n') \
        + REVIEW.format(month=36, measure="young_people_started", extra="") \
        + '[contract.termination]\nearly_redemption = [{ from_month = 36, fraction = 0.75 }]\n'
    result = invoke(["validate", str(child(text)(tmp_path))])
    assert result.exit_code == 0, result.output
