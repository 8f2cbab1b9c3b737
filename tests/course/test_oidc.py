"""OIDC sign-in (st.login / st.user): an identity becomes a roster learner, or nobody.

The mapping rules are tested on course.auth directly; the sign-in page with AppTest, whose `user`
seeds st.user as a signed-in identity would (no identity provider is contacted).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from course.auth import (OidcRefused, RosterEntry, learner_for_identity, oidc_provider,
                         roster_entries)
from course.config import OidcSettings, load_config
from grader.course_dir import gradebook

APP = str(Path(__file__).resolve().parents[2] / "course" / "app.py")
TIMEOUT = 60
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "theater", "client_secret": "s3cret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration"}
ROSTER = [RosterEntry("ada", "Ada.Lovelace@Uni.edu", "canvas-1"), RosterEntry("bob", "bob@uni.edu", "canvas-2"),
          RosterEntry("cy", "twins@uni.edu"), RosterEntry("di", "TWINS@uni.edu")]


def signed_in(**claims) -> dict:
    return {"is_logged_in": True, "email_verified": True, **claims}


# --------------------------------------------------------------------------- the mapping rules


def test_an_email_on_the_roster_is_that_learner_whatever_its_case():
    assert learner_for_identity(signed_in(email="ada.lovelace@uni.edu"), ROSTER, OidcSettings()) == "ada"
    assert learner_for_identity(signed_in(email="  BOB@UNI.EDU "), ROSTER, OidcSettings()) == "bob"


def test_an_email_not_on_the_roster_gets_no_learner():
    with pytest.raises(OidcRefused, match="not on this course's class list"):
        learner_for_identity(signed_in(email="eve@uni.edu"), ROSTER, OidcSettings())


def test_two_roster_rows_with_one_email_are_refused_not_guessed():
    with pytest.raises(OidcRefused, match="2 learners on this course's class list share") as caught:
        learner_for_identity(signed_in(email="twins@uni.edu"), ROSTER, OidcSettings())
    assert "cy" not in str(caught.value) and "di" not in str(caught.value), "no classmate's id is shown"


@pytest.mark.parametrize("identity", [
    {"email": "ada.lovelace@uni.edu"},                                        # st.user without a sign-in
    {"is_logged_in": False, "email": "ada.lovelace@uni.edu"},
    signed_in(email="ada.lovelace@uni.edu", email_verified=False),            # the provider did not verify it
    signed_in(),                                                              # no email claim at all
    signed_in(email=""),
    signed_in(email=True),
])
def test_an_identity_that_proves_nothing_gets_no_learner(identity):
    with pytest.raises(OidcRefused):
        learner_for_identity(identity, ROSTER, OidcSettings())


def test_an_identity_issued_longer_ago_than_a_session_lasts_must_sign_in_again():
    identity = signed_in(email="bob@uni.edu", iat=1_000_000)
    assert learner_for_identity(identity, ROSTER, OidcSettings(), max_age_seconds=3600, now=1_000_000 + 3599) == "bob"
    with pytest.raises(OidcRefused, match="older than 1 hours"):
        learner_for_identity(identity, ROSTER, OidcSettings(), max_age_seconds=3600, now=1_000_000 + 3601)


def test_matching_by_lms_user_id_compares_the_configured_claim_exactly():
    by_lms = OidcSettings(match="lms_user_id")
    assert learner_for_identity(signed_in(sub="canvas-2"), ROSTER, by_lms) == "bob"
    with pytest.raises(OidcRefused, match="LMS user id"):
        learner_for_identity(signed_in(sub="CANVAS-2"), ROSTER, by_lms)
    custom = OidcSettings(match="lms_user_id", claim="lti_user")
    assert learner_for_identity(signed_in(sub="x", lti_user="canvas-1"), ROSTER, custom) == "ada"


def test_oidc_is_on_only_when_secrets_toml_names_a_complete_provider():
    assert oidc_provider(None, OidcSettings()) is None
    assert oidc_provider({}, OidcSettings()) is None
    assert oidc_provider({k: v for k, v in AUTH.items() if k != "client_secret"}, OidcSettings()) is None
    assert oidc_provider({k: v for k, v in AUTH.items() if k != "cookie_secret"}, OidcSettings()) is None
    default = oidc_provider(AUTH, OidcSettings(label="Sign in with Campus"))
    assert default is not None and default.login_name is None and default.label == "Sign in with Campus"
    named = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"],
             "microsoft": {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}}
    assert oidc_provider(named, OidcSettings()) is None, "the default provider is not configured"
    assert oidc_provider(named, OidcSettings(provider="microsoft")).login_name == "microsoft"


def test_the_roster_is_the_gradebooks_students_that_theater_assign_imported(app_home):
    course = load_config().course
    with gradebook(course) as gb:
        gb.update_or_create_student("ada", email="Ada@uni.edu", lms_user_id="canvas-1")
        gb.update_or_create_student("bob")
    assert sorted(roster_entries(course), key=lambda entry: entry.learner_id) == [RosterEntry("ada", "Ada@uni.edu", "canvas-1"), RosterEntry("bob")]


# --------------------------------------------------------------------------- the sign-in page


@pytest.fixture
def class_list(app_home):
    with gradebook(load_config().course) as gb:
        gb.update_or_create_student("ada", email="ada@uni.edu")
        gb.update_or_create_student("cy", email="twins@uni.edu")
        gb.update_or_create_student("di", email="Twins@uni.edu")
    return app_home


def run_app(user: dict | None = None, secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if secrets:
        at.secrets["auth"] = secrets
    if user is not None:
        at.user = user
    return at.run()


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def test_without_oidc_configured_the_page_is_unchanged(class_list):
    at = run_app(user=signed_in(email="ada@uni.edu"))
    assert not at.exception
    assert "Sign in with your institution account" not in labels(at)
    assert "learner_id" not in at.session_state, "st.user alone signs nobody in when OIDC is off"
    assert "Learner id" in [t.label for t in at.text_input]


def test_with_oidc_configured_the_provider_button_starts_st_login(class_list, monkeypatch):
    import streamlit

    calls = []
    monkeypatch.setattr(streamlit, "login", lambda provider=None: calls.append(provider))
    at = run_app(secrets=AUTH)
    assert not at.exception and "Sign in with your institution account" in labels(at)
    next(b for b in at.button if b.label == "Sign in with your institution account").click().run()
    assert calls == [None]
    assert "learner_id" not in at.session_state


def test_a_signed_in_identity_on_the_roster_gets_that_learners_session(class_list):
    at = run_app(user=signed_in(email="ADA@uni.edu", iat=int(time.time())), secrets=AUTH)
    assert not at.exception
    assert at.session_state["learner_id"] == "ada"


@pytest.mark.parametrize(("email", "message", "age"), [
    ("eve@uni.edu", "not on this course's class list", 0),
    ("twins@uni.edu", "share the e-mail address", 0),
    ("ada@uni.edu", "older than 12 hours", 13 * 3600),   # the app's default session_hours is 12
])
def test_a_signed_in_identity_off_the_roster_ambiguous_or_stale_gets_nothing(class_list, email, message, age):
    at = run_app(user=signed_in(email=email, iat=int(time.time()) - age), secrets=AUTH)
    assert not at.exception
    assert "learner_id" not in at.session_state
    assert any(message in e.value for e in at.error)
    assert "Sign out of the identity provider" in labels(at)
    assert "u" not in at.query_params, "no sign-in token was handed out"


def test_staff_keep_their_accounts_when_oidc_is_configured(class_list):
    at = run_app(user=signed_in(email="eve@uni.edu"), secrets=AUTH)
    next(t for t in at.text_input if t.label == "Staff account").input("staff")
    next(t for t in at.text_input if t.label == "Password").input("staff-secret")
    next(b for b in at.button if b.label == "Sign in as staff").click().run()
    assert not at.exception
    assert at.session_state["staff_role"] == "instructor" and "learner_id" not in at.session_state


def test_signing_out_ends_the_oidc_session_so_nobody_is_signed_straight_back_in(class_list):
    at = run_app(user=signed_in(email="ada@uni.edu", iat=int(time.time())), secrets=AUTH)
    assert at.session_state["learner_id"] == "ada"
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert not at.exception
    assert at.user.get("is_logged_in") is False, "st.logout() was called"
    assert "learner_id" not in at.session_state
    assert "Sign in with your institution account" in labels(at)
