"""XVA for cleared RFQs: funding of marginal IM, VM funding, capital, CCP default, quotes.

Naming (docs/methodology.md §D1): the source article calls the funding cost of the marginal IM "FVA"
and the funding cost of variation-margin timing "MVA"; textbooks (Gregory, Green, ORE) call the
first one MVA. User-facing labels keep the article's names; internal keys are unambiguous:
``fva_im`` (article FVA = textbook MVA) and ``mva_vm`` (article MVA = a textbook FVA
component). Never add a textbook MVA on top of ``fva_im``: that would count IM funding twice.
Sign convention everywhere: positive = a cost to the desk, which widens the quote.
"""
