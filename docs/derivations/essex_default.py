"""Derive the default Essex scenario's priors on population risk and effect, and print the arithmetic.

    python docs/derivations/essex_default.py            # print the derivation
    python docs/derivations/essex_default.py --write    # ... and write it into simsib/scenarios/essex.toml

The method is in simsib/analysis/derivation.py: essex-2012's prior draws of (p30, log hazard
ratio), each simulated under Essex's realised delivery, weighted by the likelihood of Essex's
published 10.8% care proportion (E6) and of the START trial (E20).  The default holds exactly
the numbers this prints (tests/test_derivation.py re-runs it and compares the text).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from simsib.analysis import derivation as d

ROOT = Path(__file__).resolve().parents[2]
ESSEX = ROOT / "simsib" / "scenarios" / "essex.toml"
BLOCK = re.compile(r"# BEGIN DERIVED (\w+).*?# END DERIVED \1\n", re.S)
TOOL = "docs/derivations/essex_default.py"


def blocks(result: d.Derivation) -> dict[str, str]:
    """The text of each derived block of essex.toml, by name."""
    where = (f"E6, E20, E26: derived by {TOOL} -- essex-2012's prior conditioned on Essex's 10.8% care "
             f"proportion (E6) and the START trial (E20, heterogeneity from E26); {result.draws:,} prior draws, "
             f"effective sample {result.effective_draws:,.0f}")
    kept = result.kept("population")
    population = ",\n".join(
        f'    {{ dist = "beta", a = {a:g}, b = {b:g}, source = "E6, E20: the 2012 strand \'{_short(s.label)}\', '
        f'conditioned ({TOOL})" }}' for s, (a, b) in zip(kept, result.beta))
    kept = result.kept("effect")
    effect = ",\n".join(
        f'    {{ dist = "normal", mean = {m:g}, sd = {sd:g}, source = "E6, E20: the 2012 strand \'{_short(s.label)}\', '
        f'conditioned ({TOOL})" }}' for s, (m, sd) in zip(kept, result.normal))
    head = f"# BEGIN DERIVED {{name}} ({TOOL} --write; do not edit by hand)\n"
    return {
        "population": head.format(name="population")
        + f"p30_entry = {{ dist = \"mixture\", weights = {_list(result.population_weights)}, components = [\n"
        + population + f"\n], source = \"{where}\" }}\n# END DERIVED population\n",
        "effect": head.format(name="effect")
        + f"log_hazard_ratio = {{ dist = \"mixture\", weights = {_list(result.effect_weights)}, components = [\n"
        + effect + f"\n], source = \"{where}\" }}\n# END DERIVED effect\n",
        "ridge": head.format(name="ridge")
        + "[[correlations]]\nbetween = [\"population.p30_entry\", \"effect.log_hazard_ratio\"]\n"
        + f"rank = {result.rank_correlation:g}\n"
        + f"source = \"{where}: a riskier population goes with a stronger effect (E47)\"\n# END DERIVED ridge\n",
    }


def _short(label: str) -> str:
    """A strand's name: its source text after the id or 'judgement:', to the first ';' or ' ('."""
    text = label.split(":", 1)[-1].strip() if label.startswith(("judgement", "E")) else label
    return re.split(r";| \(", text.replace('"', "'"))[0]


def _list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def report(result: d.Derivation) -> str:
    """The derivation's arithmetic, as text."""
    care = result.prior_care_proportion
    lines = [
        f"Essex default priors, derived from {d.PRIOR_SCENARIO} ({TOOL})",
        f"  prior draws: {result.draws:,} (seed {result.seed}), each simulated under {d.OBSERVATION_SCENARIO}'s "
        "observed delivery (388 starts, measured to March 2019)",
        "  prior predictive treated care proportion: "
        + ", ".join(f"p{p:02d} {q:.1%}" for p, q in zip((5, 25, 50, 75, 95), np.percentile(care, [5, 25, 50, 75, 95]))),
        f"  weight W_i = exp(-1/2 ((y_i - {d.PUBLISHED_CARE_PROPORTION})/{d.KERNEL_WIDTH})^2)"
        f" x N({d.START_LOG_ODDS_RATIO} | theta_i, {d.START_SE}^2 + {d.HETEROGENEITY}^2)   [E6; E20, E26]",
        f"  effective sample size (sum W)^2 / sum W^2 = {result.effective_draws:,.1f}",
        "",
    ]
    for title, strands, fitted in (("population.p30_entry", result.population, "beta"),
                                   ("effect.log_hazard_ratio", result.effect, "normal")):
        lines.append(f"  {title}: strand   prior weight -> posterior weight (draws, ESS)   weighted mean, sd")
        for s in strands:
            lines.append(f"    {_short(s.label)[:48]:<48} {s.prior_weight:5.3f} -> {s.posterior_weight:6.4f} "
                         f"({s.draws:,}, {s.effective_draws:,.0f})   {s.mean:+.3f}, {s.sd:.3f}")
        lines.append("")
    lines.append(f"  population weights (3 decimals, kept strands) {result.population_weights}")
    for (a, b), s in zip(result.beta, result.kept("population")):
        c = s.mean * (1 - s.mean) / s.sd**2 - 1
        lines.append(f"    Beta by moments: c = m(1-m)/sd^2 - 1 = {s.mean:.4f}*{1 - s.mean:.4f}/{s.sd:.4f}^2 - 1 = {c:.2f};"
                     f" a = m c = {a:g}, b = (1-m) c = {b:g}")
    lines.append(f"  effect weights (3 decimals, kept strands) {result.effect_weights}; normals {result.normal}")
    lines.append(f"  weighted Spearman rank correlation of (p30, theta): {result.rank_correlation:+.2f}")
    essex_only = np.exp(-0.5 * ((care - d.PUBLISHED_CARE_PROPORTION) / d.KERNEL_WIDTH) ** 2)
    lines.append("")
    lines.append("  for comparison (not used): with Essex's 10.8% alone, without START, the posterior strand weights are")
    for title, strand, count in (("population", result.population_strand, len(result.population)),
                                 ("effect", result.effect_strand, len(result.effect))):
        shares = [essex_only[strand == i].sum() / essex_only.sum() for i in range(count)]
        lines.append(f"    {title}: " + ", ".join(f"{x:.3f}" for x in shares))
    dropped = [s for s in result.population + result.effect if round(s.posterior_weight, 3) < d.MIN_WEIGHT]
    for s in dropped:
        lines.append(f"  dropped (posterior weight {s.posterior_weight:.4f} rounds below {d.MIN_WEIGHT}): {_short(s.label)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the derived blocks into essex.toml")
    args = parser.parse_args(argv)
    result = d.derive()
    print(report(result))
    if args.write:
        text = ESSEX.read_text(encoding="utf-8")
        new = blocks(result)
        found = {m.group(1) for m in BLOCK.finditer(text)}
        if found != set(new):
            print(f"essex.toml must hold the blocks {sorted(new)}; found {sorted(found)}", file=sys.stderr)
            return 1
        ESSEX.write_text(BLOCK.sub(lambda m: new[m.group(1)], text), encoding="utf-8")
        print(f"\nwritten into {ESSEX.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
