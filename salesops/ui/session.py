"""Who is using the app in this browser session: Streamlit's own sign-in (``st.login`` /
``st.user`` / ``st.logout``, OpenID Connect) when ``.streamlit/secrets.toml`` has an ``[auth]``
section; without one, the local single-user mode (the local admin, served on 127.0.0.1 only).

:func:`start` runs first in every script run (app.py): it signs the user in or stops the run
with the sign-in screen, and makes the user the acting user of the run
(:func:`salesops.auth.set_current`), so that every write the run makes is checked and recorded
under their name.
"""
from __future__ import annotations

import streamlit as st

from .. import auth
from ..errors import SalesopsError

#: Addresses the local single-user mode may listen on.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
K_USER = "_signed_in_user"


def auth_configured() -> bool:
    """True when the secrets have an ``[auth]`` section (sign-in through OpenID Connect)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all raises (its type varies by version)
        return False


def _claims() -> tuple[str, str]:
    """(e-mail or subject, display name) of the signed-in user."""
    email = st.user.get("email") or st.user.get("preferred_username") or st.user.get("sub") or ""
    return str(email), str(st.user.get("name") or "")


def _sign_in_screen() -> None:
    st.title("salesops")
    st.write("Sign in to see this workspace's numbers.")
    if st.button("Sign in", type="primary", icon=":material/login:", key="sign_in"):
        st.login()
    st.stop()


def _no_role_screen(email: str) -> None:
    st.title("salesops")
    from .widgets import plain

    st.warning(plain(f"You are signed in as {email}, but this workspace has no role for you. Ask an admin to add you "
                     "on the Users page."), icon=":material/lock:")
    if st.button("Sign out", key="sign_out_no_role"):
        st.logout()
    st.stop()


def start(db: str) -> auth.User:
    """The signed-in user of this run (the sign-in screen stops the run until there is one),
    made the acting user."""
    if not auth_configured():
        address = str(st.get_option("server.address") or "127.0.0.1")
        if address not in LOOPBACK:
            st.error(f"Sign-in is not configured (no [auth] in .streamlit/secrets.toml), so this app serves only this "
                     f"computer (127.0.0.1), but the server listens on {address}. Configure sign-in (docs/access.md) "
                     "or start it with --server.address 127.0.0.1.")
            st.stop()
        user = auth.local_user()
    else:
        if not st.user.is_logged_in:
            auth.set_current(None)
            _sign_in_screen()
        email, name = _claims()
        try:
            user = auth.sign_in(db, email, name)
        except SalesopsError as exc:
            st.error(str(exc))
            st.stop()
        if user is None:
            auth.set_current(None)
            _no_role_screen(email)
    auth.set_current(user)
    st.session_state[K_USER] = user
    return user


def sidebar_note(user: auth.User) -> None:
    """Who is signed in (and a sign-out button), or that this is the local single-user mode."""
    from .widgets import plain

    sb = st.sidebar
    if user.local:
        sb.caption(plain(f"Local single-user mode: served on 127.0.0.1 only, you act as admin ({user.email}). "
                         "Configure sign-in for a team (docs/access.md)."))
        return
    sb.caption(plain(f"Signed in as {user.email} · {auth.ROLE_LABELS.get(user.role, user.role)}"))
    if sb.button("Sign out", key="sign_out", icon=":material/logout:"):
        st.logout()


def current() -> auth.User:
    return auth.current()
