"""Instructor: who is signed in as staff (and which presenter links are live), revoke any of them,
and the sign-in locks this app process has set."""

import datetime as dt

import pandas as pd
import streamlit as st

from course import auth
from course.app_pages import common
from course.app_pages.instructor_common import open_page

FLASH_KEY = "_sessions_flash"

open_page("Sign-in sessions")
sessions = common.get_sessions()
accounts = common.staff_accounts()
mine = st.session_state.get(common.STAFF_HANDLE_KEY)
mine_id = None
if isinstance(mine, str):
    from course.sessions import session_id

    mine_id = session_id(mine)


def _account(record) -> str:
    """A session's account as listed: an account an LMS launch made carries the person's name."""
    account = accounts.get(record.who)
    return account.label if account is not None else record.who


# a session whose password changed (or whose account is gone) ends at its next use; end it now
for record in sessions.active(("staff",)):
    account = accounts.get(record.who)
    if account is None or account.version != record.credential:
        sessions.revoke_id(record.id, "password changed" if account else "account removed")

st.caption("Each sign-in is a session kept on the server; the address bar holds only a random "
           "handle for it. Sign-out, a new password (`theater users add NAME --replace`) or "
           "revoking it here ends it, and its old link then opens the sign-in page. Sessions also "
           f"end after {common.get_config().session_idle_hours:g} h unused and "
           f"{common.get_config().session_hours:g} h after sign-in.")


def _age(moment: dt.datetime) -> str:
    minutes = int((sessions.clock() - moment).total_seconds() // 60)
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


flash = st.session_state.pop(FLASH_KEY, None)
if flash:
    st.success(flash, icon=":material/block:")
active = sessions.active(("staff", "presenter"))
st.header(f"Active staff sessions and presenter links ({len(active)})")
if not active:
    st.write("None.")
else:
    st.dataframe(pd.DataFrame({
        "session": [r.short_id + (" (this one)" if r.id == mine_id else "") for r in active],
        "account": [_account(r) for r in active],
        "role": [auth.session_role_label(r) for r in active],
        "address": [r.client or "unknown" for r in active],
        "signed in": [f"{r.created_at:%Y-%m-%d %H:%M} UTC" for r in active],
        "last used": [_age(r.last_seen) for r in active],
        "ends by": [f"{r.expires_at:%Y-%m-%d %H:%M} UTC" for r in active],
    }), hide_index=True, width="stretch")
    by_label = {f"{r.short_id} · {_account(r)} · {auth.session_role_label(r)}"
                + (" (this session)" if r.id == mine_id else ""): r.id for r in active}
    with st.form("revoke_session"):
        label = st.selectbox("Session", list(by_label))
        revoke = st.form_submit_button("Revoke this session", icon=":material/block:")
    if revoke and label in by_label:
        chosen = by_label[label]
        ended = sessions.revoke_id(chosen, f"revoked by {common.staff_user_name() or 'an instructor'}")
        st.session_state[FLASH_KEY] = (f"Session {chosen[:10]} revoked: its link now opens the "
                                       "sign-in page." if ended else f"Session {chosen[:10]} had already ended.")
        st.rerun()

learners = len(sessions.active(("learner",)))
st.caption(f"{learners} learner session(s) are active. A re-issued access code (Roster & access "
           "codes) ends every session of that learner.")

st.header("Sign-in locks")
st.caption("Wrong passwords, access codes and course codes are counted per account and client "
           "address, with a back-off that doubles per further guess. The owner's usual address "
           "(a recent successful sign-in) is not locked out by guesses from elsewhere. Every lock "
           "is also written to the app's log (logger `course.auth`); this list holds the locks "
           "of this app process since it started.")
locks = auth.THROTTLES.recent_locks()
if not locks:
    st.write("No lock since the app started.")
else:
    st.dataframe(pd.DataFrame({
        "when": [dt.datetime.fromtimestamp(e.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") for e in locks],
        "what": [{"pair": "account from this address", "address": "this address, any account",
                  "account": "account, from addresses not its owner's"}[e.scope] for e in locks],
        "kind": [e.kind for e in locks],
        "account": [e.account for e in locks],
        "address": [e.client or "unknown" for e in locks],
        "wrong guesses": [e.failures for e in locks],
        "locked for": [f"{e.seconds:.0f} s" for e in locks],
    }), hide_index=True, width="stretch")
