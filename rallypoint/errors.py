"""The one exception type the CLI turns into a single clear sentence and a non-zero exit."""


class RallypointError(Exception):
    """A problem the user can act on; its message is one sentence saying what and where."""


class InputError(RallypointError):
    """A whole input could not be read (wrong format, empty, truncated, unreadable)."""


class LakeError(RallypointError):
    """The lake path or its contents are not usable."""


class Neo4jError(RallypointError):
    """Neo4j could not be reached or refused the request."""


class ViewError(RallypointError):
    """A saved Cypher view that cannot be loaded or run as asked."""
