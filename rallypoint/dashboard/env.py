"""How ``rallypoint dashboard`` tells the Streamlit app which lake and Neo4j to use."""

#: The lake folder the app reads (set by :func:`rallypoint.dashboard.launch.run_dashboard`).
LAKE_ENV = "RALLYPOINT_LAKE"
#: The Neo4j Bolt URI for the account page's ego-network, when ``--neo4j`` was given.
NEO4J_ENV = "RALLYPOINT_NEO4J_URI"
#: How people sign in: ``password`` (local accounts, the default), ``oidc`` or ``none`` (``--no-auth``, localhost only).
AUTH_ENV = "RALLYPOINT_AUTH"
