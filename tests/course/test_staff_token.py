"""A trainer's reload keeps them signed in: a signed, expiring staff token in the url."""

import time

from course import auth
from course.config import load_config


def test_a_staff_token_brings_back_role_and_account(tmp_path, monkeypatch):
    monkeypatch.setenv("THEATER_STAFF_PASSWORD", "s3cret-staff")
    config = load_config(tmp_path)
    token = auth.staff_token(config, "trainer", "Grace")
    assert auth.staff_from_token(config, token) == ("trainer", "Grace")
    assert config.course_secret not in token and "s3cret" not in token
    assert (tmp_path / auth.SESSION_KEY_FILE).exists()


def test_forged_expired_or_stale_tokens_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("THEATER_STAFF_PASSWORD", "first-password")
    config = load_config(tmp_path)
    token = auth.staff_token(config, "instructor", None)
    head, _, signature = token.rpartition(".")
    assert auth.staff_from_token(config, head + "." + signature[::-1]) is None
    assert auth.staff_from_token(config, "trainer") is None
    assert auth.staff_from_token(config, None) is None
    time.sleep(1.1)
    assert auth.staff_from_token(config, token, max_age=0.5) is None
    monkeypatch.setenv("THEATER_STAFF_PASSWORD", "rotated-password")
    assert auth.staff_from_token(load_config(tmp_path), token) is None   # new password: out


def test_a_learner_sign_in_token_is_not_a_staff_token(tmp_path):
    from course.data import sign_in_token

    config = load_config(tmp_path)
    assert auth.staff_from_token(config, sign_in_token(config, "ada")) is None
