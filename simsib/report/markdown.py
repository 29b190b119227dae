"""The report as Markdown: the same sections, sentences and tables as the HTML page, linking the
figure files (:func:`render_markdown`, from :func:`simsib.report.document.report_context`)."""

from __future__ import annotations

from typing import Any

from simsib.report import commission_section, evidence_section

TITLES = {"update": "Re-forecast", "investors": "Investors", "council": "Council",
          "drivers": "What drives the result", "referrals": "Referrals", "outcomes": "Outcomes",
          "sensitivity": "Sensitivity", "commission": "Commissioning: SIB or not", "convergence": "Convergence"}


def md_table(header: list[str], rows: list[list[str]]) -> str:
    def clean(cell: Any) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _tables(tables: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for table in tables:
        out += [f"### {table['title']}", ""]
        if table.get("lead"):
            out += [table["lead"], ""]
        out += [md_table(table["header"], table["rows"]), ""]
    return out


def render_markdown(context: dict[str, Any]) -> str:
    meta = context["scenario"]
    out = [f"# {context['title']}", "", meta.description, "",
           f"{context['draws']:,} Monte Carlo draws, seed {context['seed']}. "
           "Each mean is followed by its Monte Carlo standard error.", ""]
    if context.get("executive"):
        out += ["## Summary", "", *(f"- {s}" for s in context["executive"]), ""]
    out += ["## Headline figures", "",
            md_table(["figure", "mean", "± se", "p05", "median", "p95"],
                     [[r["label"], *(r["text"][k] for k in ("mean", "se", "p05", "p50", "p95"))]
                      for r in context["headlines"]]), ""]
    out += [f"- {r['label']}: – {r['note']}" for r in context["headlines"] if r.get("note")]
    for section, title in TITLES.items():
        items = context["figures"][section]
        tables = context.get("tables", {}).get(section, [])
        if not items and not tables and not (section == "commission" and context["commission"]):
            continue
        out += [f"## {title}", ""]
        if section == "update" and context.get("update"):
            out += [f"- **warning:** {w}" for w in context["update"]["warnings"]] + [""]
            for table in context["update"]["tables"]:
                out += [f"### {table['title']}", "", table["lead"], "", md_table(table["header"], table["rows"]), ""]
        out += _tables(tables)
        if section == "council" and context["payments"]:
            out += ["Payments by mechanism and payer, and what the contract would have paid had the service "
                    "had no effect:", "",
                    md_table(["payments", "mean", "± se", "p05", "median", "p95"],
                             [[r["label"], *(r["text"][k] for k in ("mean", "se", "p05", "p50", "p95"))]
                              for r in context["payments"]]), ""]
        if section == "commission" and context["commission"]:
            out += commission_section.markdown_lines(context["commission"])
        for item in items:
            out += [f"![{item['title']}]({item['file']})", "", f"*{item['caption']}*", ""]
        if section == "investors" and context.get("tranches"):
            tranches = context["tranches"]
            out += ["By tranche, on the same draws (mean ± se, median):", "",
                    md_table(["figure", *tranches["names"]], tranches["rows"]), ""]

    out += ["## Assumptions", "",
            md_table(["input", "what it is", "unit", "value or distribution", "kind", "source", "evidence"],
                     [[r["key"], r.get("label", ""), r.get("unit", ""), r["value"], r["kind"], r["source"],
                       ", ".join(f"[{c['id']}](#ev-{c['id']})" for c in r.get("cites", []))]
                      for r in context["assumptions"]]), ""]
    out += evidence_section.markdown_lines(context.get("evidence", []))
    out += ["## Provenance", "", md_table(["item", "value"], [list(r) for r in context["provenance"]]), ""]
    return "\n".join(out)
