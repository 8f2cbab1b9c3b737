import stat

import pytest

from course.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("THEATER_HOME", "THEATER_STAFF_PASSWORD", "THEATER_DATABASE_URL",
                 "THEATER_COURSE_CODE"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_put_everything_under_the_home(tmp_path):
    config = load_config(tmp_path)
    assert config.database_url == f"sqlite:///{tmp_path / 'progress.sqlite'}"
    assert config.profile == "mandate-bigco" and config.course_code is None
    assert config.data_dir == tmp_path / "data" / "learners"
    assert config.staff_password_created


def test_secrets_are_created_once_private_and_kept(tmp_path):
    first = load_config(tmp_path)
    second = load_config(tmp_path)
    assert first.course_secret == second.course_secret and len(first.course_secret) >= 32
    assert first.staff_password == second.staff_password and not second.staff_password_created
    for name in ("course_secret", "staff_password"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("THEATER_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("THEATER_STAFF_PASSWORD", "pw")
    monkeypatch.setenv("THEATER_DATABASE_URL", "sqlite:///:memory:")
    monkeypatch.setenv("THEATER_COURSE_CODE", "SPRING")
    config = load_config()
    assert config.home == (tmp_path / "elsewhere").resolve()
    assert config.staff_password == "pw" and not (config.home / "staff_password").exists()
    assert config.database_url == "sqlite:///:memory:" and config.course_code == "SPRING"


def test_config_file_sets_course_code_size_and_roster(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "course_code: ABC\nemployees: 50\ndays: 90\nlearners: [ada, bob]\n")
    config = load_config(tmp_path)
    assert (config.course_code, config.employees, config.days) == ("ABC", 50, 90)
    assert config.learners == frozenset({"ada", "bob"})


@pytest.mark.parametrize("text, message", [
    ("employees: [1, 2\n", "not valid YAML"),
    ("- a list\n", "expected a mapping"),
    ("colour: blue\n", "unknown setting"),
    ("employees: -3\n", "must be positive"),
    ("days: many\n", "whole number"),
    ("learners: ada\n", "list of learner ids"),
])
def test_a_bad_config_file_is_named_with_what_is_wrong(tmp_path, text, message):
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(tmp_path)
    assert str(tmp_path / "config.yaml") in str(caught.value)
