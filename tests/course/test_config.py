"""The app serves one course directory: the embedded default, a given one, and an old var/ migrated."""

import re
import stat

import pytest

from course.auth import LEGACY_ACCOUNT, load_staff, verify_staff
from course.config import ConfigError, load_config
from grader.course_dir import init_course, load_secret


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("THEATER_HOME", "THEATER_STAFF_PASSWORD", "THEATER_DATABASE_URL",
                 "THEATER_COURSE_CODE", "THEATER_COURSE"):
        monkeypatch.delenv(name, raising=False)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_defaults_put_everything_under_the_home_and_create_a_course(tmp_path):
    config = load_config(tmp_path)
    assert config.database_url == f"sqlite:///{tmp_path / 'progress.sqlite'}"
    assert config.course.root == tmp_path / "course"
    assert (config.course.root / "theater.toml").is_file()
    assert config.course_secret == load_secret(config.course)
    assert (config.profile, config.employees, config.days) == ("mandate-bigco", 400, 180)
    assert config.course_code is None and config.data_dir == tmp_path / "data" / "learners"


def test_the_app_uses_the_same_data_spec_as_the_courses_assignments(tmp_path):
    config = load_config(tmp_path)
    for name in ("explore", "detect", "measure"):
        spec = config.course.data_spec(config.course.assignment(name))
        assert (spec.profile, spec.employees, spec.days) == (config.profile, config.employees, config.days)


def test_secret_and_session_key_are_created_once_private_and_different(tmp_path):
    first = load_config(tmp_path)
    second = load_config(tmp_path)
    assert first.course_secret == second.course_secret and len(first.course_secret) >= 32
    assert first.session_key == second.session_key and first.session_key != first.course_secret
    assert first.course.session_key_path.is_file()
    for path in (first.course.secret_path, first.course.session_key_path):
        assert mode(path) == 0o600
    for folder in (tmp_path, first.course.root, first.course.state_dir):
        assert mode(folder) == 0o700


def test_secrets_never_show_in_the_configs_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("THEATER_STAFF_PASSWORD", "pw-in-the-env")
    config = load_config(tmp_path)
    shown = repr(config)
    assert config.course_secret not in shown and config.session_key not in shown
    assert "pw-in-the-env" not in shown


def test_an_instructors_course_is_served_as_it_is(tmp_path, monkeypatch):
    course = init_course(tmp_path / "spring", data={"employees": 60, "days": 90}, create_gradebook=False)
    config = load_config(tmp_path / "home", course=course.root)
    assert config.course.root == course.root and config.course_secret == load_secret(course)
    assert (config.employees, config.days) == (60, 90)
    assert not (tmp_path / "home" / "course").exists()
    monkeypatch.setenv("THEATER_COURSE", str(course.root))
    assert load_config(tmp_path / "home2").course.root == course.root


def test_config_file_can_name_the_course(tmp_path):
    course = init_course(tmp_path / "spring", create_gradebook=False)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(f"course: {course.root}\ncourse_code: ABC\nsession_hours: 2\n")
    config = load_config(home)
    assert config.course.root == course.root
    assert config.course_code == "ABC" and config.session_hours == 2


def test_a_relative_course_on_the_command_line_is_from_the_working_directory(tmp_path, monkeypatch):
    """`theater users add NAME --course .` in the course folder means that folder, not var/."""
    course = init_course(tmp_path / "spring", create_gradebook=False)
    monkeypatch.chdir(course.root)
    assert load_config(tmp_path / "home", course=".").course.root == course.root
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THEATER_COURSE", "spring")
    assert load_config(tmp_path / "home2").course.root == course.root
    monkeypatch.delenv("THEATER_COURSE")
    home = tmp_path / "home3"
    home.mkdir()
    init_course(home / "autumn", create_gradebook=False)
    (home / "config.yaml").write_text("course: autumn\n")     # in config.yaml: from the app home
    assert load_config(home).course.root == (home / "autumn").resolve()


def test_session_lifetimes_and_the_proxy_header_are_settings(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    default = load_config(home)
    assert (default.session_hours, default.session_idle_hours, default.client_address_header) == (12, 2, None)
    (home / "config.yaml").write_text("session_hours: 8\nsession_idle_hours: 0.5\n"
                                      "client_address_header: X-Forwarded-For\n")
    config = load_config(home)
    assert (config.session_hours, config.session_idle_hours, config.client_address_header) == \
        (8, 0.5, "X-Forwarded-For")
    (home / "config.yaml").write_text("client_address_header: 'X-Forwarded-For: evil'\n")
    with pytest.raises(ConfigError, match="client_address_header"):
        load_config(home)


@pytest.mark.parametrize("value", ["0.2", "300", "fast"])
def test_the_phones_refresh_is_a_setting_within_bounds(tmp_path, value):
    home = tmp_path / "home"
    home.mkdir()
    assert load_config(home).workshop_refresh_seconds == 2.5
    (home / "config.yaml").write_text("workshop_refresh_seconds: 5\n")
    assert load_config(home).workshop_refresh_seconds == 5
    (home / "config.yaml").write_text(f"workshop_refresh_seconds: {value}\n")
    with pytest.raises(ConfigError, match="workshop_refresh_seconds"):
        load_config(home)


def test_a_folder_that_is_not_a_course_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="theater course init"):
        load_config(tmp_path / "home", course=tmp_path / "empty")


def test_an_old_app_home_keeps_its_secret_size_and_staff_password(tmp_path):
    """var/ of the earlier app (its own secret, 200 employees, a plain staff password) migrates."""
    (tmp_path / "course_secret").write_text("ab" * 32 + "\n")
    (tmp_path / "staff_password").write_text("old-shared-password\n")
    config = load_config(tmp_path)
    assert config.course_secret == "ab" * 32
    assert config.employees == 200, "learners keep the company they already had"
    assert not (tmp_path / "course_secret").exists() and not (tmp_path / "staff_password").exists()
    accounts = load_staff(config.staff_path)
    assert accounts[LEGACY_ACCOUNT].role == "instructor"
    assert verify_staff(accounts, LEGACY_ACCOUNT, "old-shared-password")
    assert "old-shared-password" not in config.staff_path.read_text()
    assert mode(config.staff_path) == 0o600
    assert any("moved" in n for n in config.notices) and any("staff" in n for n in config.notices)


def test_an_old_config_files_company_size_moves_into_the_course(tmp_path):
    (tmp_path / "config.yaml").write_text("employees: 50\ndays: 90\n")
    config = load_config(tmp_path)
    assert (config.employees, config.days) == (50, 90)
    assert 'employees = 50' in (config.course.root / "theater.toml").read_text()
    (tmp_path / "config.yaml").write_text("employees: 70\n")
    with pytest.raises(ConfigError, match=r"theater.toml"):
        load_config(tmp_path)


def test_the_old_single_staff_password_from_the_environment_still_signs_in(tmp_path, monkeypatch):
    monkeypatch.setenv("THEATER_STAFF_PASSWORD", "from-the-env")
    config = load_config(tmp_path)
    accounts = load_staff(config.staff_path, config.legacy_staff_password)
    assert verify_staff(accounts, LEGACY_ACCOUNT, "from-the-env").role == "instructor"


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("THEATER_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("THEATER_DATABASE_URL", "sqlite:///:memory:")
    monkeypatch.setenv("THEATER_COURSE_CODE", "SPRING")
    config = load_config()
    assert config.home == (tmp_path / "elsewhere").resolve()
    assert config.database_url == "sqlite:///:memory:" and config.course_code == "SPRING"


def test_an_existing_progress_database_is_made_private(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    db = tmp_path / "progress.sqlite"
    db.write_bytes(b"")
    db.chmod(0o644)
    load_config(tmp_path)
    assert mode(db) == 0o600


@pytest.mark.parametrize("text, message", [
    ("employees: [1, 2\n", "not valid YAML"),
    ("- a list\n", "expected a mapping"),
    ("colour: blue\n", "unknown setting"),
    ("employees: -3\n", "field 'employees': must be greater than 0, not -3"),
    ("days: many\n", "whole number"),
    ("learners: [ada]\n", "access codes"),
    ("session_hours: 0\n", "field 'session_hours': must be greater than 0, not 0"),
    ("attempt_budget: yes\n", "field 'attempt_budget': must not be true"),
    ("oidc: {match: name}\n", "field 'oidc.match': unknown match 'name' (known: email, lms_user_id)"),
])
def test_a_bad_config_file_is_named_with_what_is_wrong(tmp_path, text, message):
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_config(tmp_path)
    assert str(tmp_path / "config.yaml") in str(caught.value)


def test_the_public_url_for_workshop_join_links_is_a_checked_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("THEATER_PUBLIC_URL", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    assert load_config(home).public_url is None
    (home / "config.yaml").write_text("public_url: https://workshop.example.org/theater\n")
    assert load_config(home).public_url == "https://workshop.example.org/theater/"
    monkeypatch.setenv("THEATER_PUBLIC_URL", "http://10.0.0.5:8501")   # theater app --public-url
    assert load_config(home).public_url == "http://10.0.0.5:8501/"
    monkeypatch.delenv("THEATER_PUBLIC_URL")
    for bad, why in (("ftp://example.org/", "https://"), ("example.org", "https://"),
                     ("https://ann:hunter2@example.org/", "no user name or password"),
                     ("https://example.org/?room=1", "no \\?query"),
                     ("https://example.org/#join", "#fragment")):
        (home / "config.yaml").write_text(f"public_url: '{bad}'\n")
        with pytest.raises(ConfigError, match=why) as raised:
            load_config(home)
        assert "hunter2" not in str(raised.value)          # a password is never echoed back


def test_a_running_workshop_follows_edits_of_its_join_address_and_refresh(tmp_path, monkeypatch, caplog):
    """public_url and workshop_refresh_seconds apply without a restart; a broken edit keeps the
    last good values (a room mid-workshop does not stop) and is logged; the command-line address
    still wins."""
    import os

    from course.config import LiveWorkshopSettings, WorkshopSettings

    monkeypatch.delenv("THEATER_PUBLIC_URL", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text("workshop_refresh_seconds: 2.5\n")
    now = [0.0]
    live = LiveWorkshopSettings(tmp_path, WorkshopSettings(None, 2.5), monotonic=lambda: now[0])

    def edit(text: str) -> None:
        path.write_text(text)
        stamp = path.stat().st_mtime_ns + 1_000_000_000
        os.utime(path, ns=(stamp, stamp))

    edit("public_url: https://hall.example.org/theater/\nworkshop_refresh_seconds: 5\n")
    assert live.current() == WorkshopSettings(None, 2.5)          # not looked at again yet
    now[0] += 2.5
    assert live.current() == WorkshopSettings("https://hall.example.org/theater/", 5.0)
    edit("workshop_refresh_seconds: 500\n")                        # out of range: kept as it was
    now[0] += 2.5
    with caplog.at_level("WARNING"):
        assert live.current() == WorkshopSettings("https://hall.example.org/theater/", 5.0)
    assert "workshop_refresh_seconds" in caplog.text and "keeps its settings" in caplog.text
    edit("public_url: [unclosed\n")                                # not YAML: kept as well
    now[0] += 2.5
    assert live.current().refresh_seconds == 5.0
    monkeypatch.setenv("THEATER_PUBLIC_URL", "https://flag.example.org/")
    edit("workshop_refresh_seconds: 4\n")
    now[0] += 2.5
    assert live.current() == WorkshopSettings("https://flag.example.org/", 4.0)
    path.unlink()                                                  # no file: the defaults
    monkeypatch.delenv("THEATER_PUBLIC_URL")
    now[0] += 2.5
    assert live.current() == WorkshopSettings(None, 2.5)
