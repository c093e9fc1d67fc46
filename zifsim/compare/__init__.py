"""Simulated vs experimental facts: comparison table, PNG plots and report.md (`zifsim report`)."""
from zifsim.compare.facts import RULES, simulated_for
from zifsim.compare.report import comparison_table, load_summaries, write_report

__all__ = ["RULES", "simulated_for", "comparison_table", "load_summaries", "write_report"]
