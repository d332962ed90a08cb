"""Start the dashboard: ``rallypoint dashboard --lake LAKE [--neo4j URI] [--port P] [--no-auth]``.

The server runs offline: usage statistics are off (Streamlit would otherwise call
``data.streamlit.io``), the app uses no Material icon shortcodes (they load a Google
font), and everything else Streamlit and plotly need ships inside their packages.
It listens on 127.0.0.1 unless told otherwise (a container listens on its own
interfaces, published on the host's 127.0.0.1), since it shows account-level evidence.
People sign in (``--auth password``, the default, or ``oidc``); ``--no-auth`` is for one
person on this machine and is refused on any address but the loopback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rallypoint.dashboard.accounts import AUTH_MODES
from rallypoint.dashboard.env import AUTH_ENV, LAKE_ENV, NEO4J_ENV
from rallypoint.errors import RallypointError
from rallypoint.lake import Lake

#: The ASGI app Streamlit serves (``server.py``: the app script behind the security headers).
APP = Path(__file__).with_name("server.py")

#: Streamlit settings, passed as flags so no config file is needed.
SERVER_FLAGS: dict[str, str] = {
    "server.headless": "true",
    "server.address": "127.0.0.1",
    "browser.gatherUsageStats": "false",
    "global.developmentMode": "false",
    "server.fileWatcherType": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
}


#: Addresses only this machine can reach: the only ones a dashboard without sign-in may listen on.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def streamlit_command(lake: str | os.PathLike[str], neo4j_uri: str | None = None, port: int = 8501,
                      address: str = "127.0.0.1", auth: str = "password") -> tuple[list[str], dict[str, str]]:
    """The argv and environment that serve the dashboard on ``lake`` at ``address:port``."""
    root = Lake(lake).require().root.resolve()
    if not 0 < int(port) < 65536:
        raise RallypointError(f"The port must be between 1 and 65535, not {port}.")
    if auth not in AUTH_MODES:
        raise RallypointError(f"The sign-in mode must be one of {', '.join(AUTH_MODES)}, not {auth!r}.")
    if auth == "none" and address not in LOOPBACK:
        raise RallypointError(f"--no-auth is for one person on this machine: it cannot listen on {address}.")
    flags = SERVER_FLAGS | {"server.port": str(int(port)), "server.address": address}
    argv = [sys.executable, "-m", "streamlit", "run", str(APP), *(f"--{k}={v}" for k, v in flags.items())]
    env = dict(os.environ) | {LAKE_ENV: str(root), AUTH_ENV: auth, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    if neo4j_uri:
        env[NEO4J_ENV] = neo4j_uri
    else:
        env.pop(NEO4J_ENV, None)
    return argv, env


def run_dashboard(lake: str | os.PathLike[str], neo4j_uri: str | None = None, port: int = 8501,
                  address: str = "127.0.0.1", auth: str = "password") -> None:
    """Serve the dashboard until interrupted (replaces this process by the Streamlit server)."""
    argv, env = streamlit_command(lake, neo4j_uri=neo4j_uri, port=port, address=address, auth=auth)
    how = {"password": "sign-in with dashboard accounts (rallypoint users add)",
           "oidc": "sign-in through your identity provider", "none": "NO sign-in: for you alone on this machine"}[auth]
    print(f"rallypoint dashboard on http://{address}:{port} (lake {env[LAKE_ENV]}; {how}); Ctrl+C stops it.",
          flush=True)
    os.execve(argv[0], argv, env)
