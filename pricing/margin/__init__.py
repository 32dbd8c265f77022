"""Local replica of CCP margin models: scenario VaR/ES (HS, FHS, MC), SPAN, Deribit portfolio margin.

See :mod:`pricing.margin.engine` for how models aggregate and assemble, and docs/methodology.md §A-C
for the formulas.
"""
