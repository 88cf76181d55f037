"""Contact plays: named interventions with a randomised holdout of their own, and the saves they bring.

spec (what a play is, read from TOML and checked), store (the plays and play_status tables), assign (the
daily randomisation into play_assignments), stats (the estimators, pure), results (per play, from the
warehouse), delivery (today's treatment list: export and webhook).
"""
