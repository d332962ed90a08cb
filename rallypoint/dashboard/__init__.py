"""The analysts' dashboard: a Streamlit app over a lake's detection runs.

Pages: the triage queue (flagged clusters ranked by score), a cluster's evidence,
an account's history, the data's health, and the team with its audit log. Everyone signs in
(:mod:`~rallypoint.dashboard.accounts`, :mod:`~rallypoint.dashboard.session`,
:mod:`~rallypoint.dashboard.server`); decisions, comments, assignments, exports and account
views are events of a hash-chained log in ``LAKE/triage.sqlite``
(:mod:`rallypoint.dashboard.triage`), and decisions carry over to the next run's matching
clusters (:mod:`rallypoint.dashboard.carryover`). Every value from data reaches the page as
text through :mod:`~rallypoint.dashboard.safe`.

The library modules here (``queue``, ``triage``, ``carryover``, ``network``,
``timeline``, ``highlight``, ``health``, ``ego``) hold the logic and are tested
without a browser; ``views/`` only draws them; ``launch`` starts the server.
"""
