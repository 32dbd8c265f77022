"""Worked examples behind ``clearquote structures``, ``xva-example`` and ``margin-example``.

They call only the engine's public API (``pricing``), as a user's script would, and print
tables; the numbers they show are computed, never typed in.
"""
