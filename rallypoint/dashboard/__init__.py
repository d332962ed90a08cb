"""The analysts' dashboard: a Streamlit app over a lake's detection runs.

Pages: the triage queue (flagged clusters ranked by score), a cluster's evidence,
an account's history, and the data's health. Triage decisions live append-only in
``LAKE/triage.sqlite`` (:mod:`rallypoint.dashboard.triage`) and carry over to the
next run's matching clusters (:mod:`rallypoint.dashboard.carryover`).

The library modules here (``queue``, ``triage``, ``carryover``, ``network``,
``timeline``, ``highlight``, ``health``, ``ego``) hold the logic and are tested
without a browser; ``views/`` only draws them; ``launch`` starts the server.
"""
