"""Presentation: number formatting, figures, and reports from run folders and analyses.

Holds number formatting shared by the terminal and the reports (:mod:`~simsib.report.formatting`),
one function per figure (:mod:`~simsib.report.figures`, the only place pyplot is used), the
run-folder reader and report tables (:mod:`~simsib.report.tables`), and the HTML, Markdown and
Excel report (:mod:`~simsib.report.document`).

May import :mod:`simsib.analysis` and everything below it; never prints.
"""
