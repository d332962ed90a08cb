"""The team and the audit log: users and roles (admins manage them), the hash chain's state, recent events."""

from __future__ import annotations

import polars as pl
import streamlit as st

from rallypoint.dashboard.accounts import ROLES, AccountStore
from rallypoint.dashboard.data import chain_state, events
from rallypoint.dashboard.safe import md
from rallypoint.dashboard.session import identity, settings
from rallypoint.dashboard.triage import EVENT_KINDS
from rallypoint.dashboard.views.common import lake
from rallypoint.errors import RallypointError

#: How many of the newest events the page lists.
RECENT_EVENTS = 500


def _manage(store: AccountStore, who_name: str) -> None:
    st.subheader("Manage users")
    with st.form("add_user", clear_on_submit=True):
        c1, c2, c3 = st.columns([2, 1, 2])
        name = c1.text_input("New user's name", key="new_user_name")
        role = c2.selectbox("Role", ROLES, key="new_user_role")
        password = c3.text_input("Password (12 characters or more)", type="password", key="new_user_password")
        if st.form_submit_button("Add user"):
            try:
                store.add_user(name, role, password, who_name)
            except RallypointError as exc:
                st.error(md(exc))
            else:
                st.session_state["team_saved"] = f"Added {name} ({role})."
                st.rerun()
    names = [u["name"] for u in store.users() if not u["disabled"]]
    if not names:
        return
    with st.form("change_role"):
        c1, c2, c3 = st.columns([2, 1, 1])
        name = c1.selectbox("User", names, key="role_user")
        role = c2.selectbox("New role", ROLES, key="role_new")
        disable = c3.checkbox("Disable instead", key="role_disable")
        if st.form_submit_button("Apply"):
            if name == who_name:
                st.error("Admins cannot change or disable their own account here (use rallypoint users).")
            else:
                (store.disable(name, who_name) if disable else store.set_role(name, role, who_name))
                st.session_state["team_saved"] = f"{name}: {'disabled' if disable else role}."
                st.rerun()


def render() -> None:
    st.title("Team and audit log")
    if message := st.session_state.pop("team_saved", None):
        st.success(md(message))
    current = lake()
    who = identity()
    state = chain_state(current)
    if state.ok:
        st.success(f"The triage log's hash chain is intact: {state.rows:,} rows; head {md(state.head[:16])}….")
    else:
        st.error(f"The triage log's hash chain is BROKEN at row {state.broken_seq:d}: {md(state.reason)}. "
                 "Run rallypoint triage verify and restore the file from a backup.")
    store = AccountStore(current.triage_path, settings())
    st.subheader("Users")
    users = pl.DataFrame(store.users(), schema={"name": pl.String, "role": pl.String, "method": pl.String,
                                                "disabled": pl.Int64, "created_at": pl.String})
    st.dataframe(users.with_columns(pl.col("disabled").cast(pl.Boolean)), hide_index=True, width="stretch",
                 key="users_table")
    if not who.can("manage_users"):
        st.info(f"You are a {md(who.role)}: only admins manage users and read the full audit log.")
        return
    _manage(store, who.name)
    st.subheader("Recent events")
    st.caption("Newest first: decisions, comments, assignments, exports, account views, sign-ins and user changes.")
    kinds = st.multiselect("Kinds", list(EVENT_KINDS), key="audit_kinds")
    recent = events(current, *(kinds or EVENT_KINDS)).sort("seq", descending=True).head(RECENT_EVENTS)
    st.dataframe(recent, hide_index=True, width="stretch", height=360, key="audit_table")


if __name__ == "__main__":  # run by st.navigation as a page (navigation.py)
    render()
