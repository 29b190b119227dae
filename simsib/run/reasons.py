"""Why a figure of ``summary.json`` has no value, where the reason changes how it is shown.

A figure that is undefined in every draw is ``null`` with a ``reason``.  Most are shown as "–"
with their reason (left out, an undefined P(loss) could be read as zero); a figure whose reason
starts with :data:`NOT_APPLICABLE` does not apply to the contract at all and is left out of the
headline tables (:func:`simsib.report.headlines.says_nothing`).  Kept free of heavy imports: the
terminal's quick commands read it.
"""

NOT_APPLICABLE = "not applicable: "
NOT_CARE_DAYS = NOT_APPLICABLE + "the contract counts no care days (it pays for other outcomes)"
NO_CAP = NOT_APPLICABLE + "the contract has no cap"
