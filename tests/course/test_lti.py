"""LTI 1.3 end to end: a real platform (lti1p3platform over HTTP) launches learners into the real
`theater app` server and receives grades from `theater lti push` through AGS.

The browser is an HTTP client that follows the platform's and the tool's redirects and posts the
platform's launch form, as a browser does. Forged, expired, replayed, foreign and unknown launches
are refused with a plain page and open no session."""

from __future__ import annotations

import base64
import csv
import json
import os
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import jwt
import pytest
import sqlalchemy as sa

from course import data as course_data
from course.config import load_config
from course.lti import landing_page, route_of
from course.progress import ProgressStore
from course.sessions import SessionStore, sessions as sessions_table
from grader import lti
from grader.assign import generate_student_version
from theater.cli import main as theater
from grader.course_dir import gradebook, init_course
from grader.export import export_grades
from grader.overrides import override
from tests.course.lti_platform import INSTRUCTOR_ROLE, Platform, free_port, launch_form, rsa_pair
from tests.e2e.support import theater_app

ROOT = Path(__file__).resolve().parents[2]
DUE = datetime(2026, 3, 1, 12, 0, 0)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lti")]


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A course with a roster and grades, a platform, and `theater app` serving the course."""
    tmp = tmp_path_factory.mktemp("lti")
    course = init_course(tmp / "course", data={"employees": 20, "days": 30}, secret="lti-test-secret")
    with gradebook(course) as gb:
        for learner, lms in (("ada", "lms-ada"), ("bob", "lms-bob"), ("cyd", ""), ("dan", "lms-dan"),
                             ("eve", "lms-eve")):
            gb.update_or_create_student(learner, first_name=learner.title(), last_name="Test", lms_user_id=lms or None)
    generate_student_version(course, course.assignment("explore"))
    with gradebook(course) as gb:
        gb.update_or_create_assignment("explore", duedate=DUE)
        for learner, score in (("ada", 4.5), ("bob", 6.0), ("cyd", 3.0), ("eve", 2.0)):   # dan: nothing
            gb.add_submission("explore", learner, timestamp=datetime(2026, 3, 1, 9, 0))
            gb.find_grade("weekly_table", "explore", "explore", learner).auto_score = score
        gb.db.commit()

    port = free_port()
    tool_url = f"http://127.0.0.1:{port}"
    platform = Platform()
    platform.members = {"lms-ada", "lms-bob", "lms-dan"}     # eve is not enrolled in the LMS course
    platform.configure_tool(tool_url)
    platform.serve()
    assert theater(["lti", "keys", "--course", str(course.root)]) == 0
    assert theater(["lti", "register", *platform.register_args(), "--tool-url", tool_url,
                    "--course", str(course.root)]) == 0

    home = tmp / "home"
    try:
        with theater_app(port, home, course.root) as app:
            _wait(lambda: _answers(tool_url + "/lti/jwks") or app.poll() is not None, 180,
                  "theater app did not serve /lti/jwks in 180 s")
            assert app.poll() is None, f"theater app exited with {app.returncode}"
            config = load_config(home, course.root)
            engine = ProgressStore(config.database_url).engine
            yield {"course": course, "platform": platform, "tool_url": tool_url, "config": config,
                   "sessions": SessionStore(engine), "engine": engine}
    finally:
        platform.stop()


def _session_count(world) -> int:
    with world["engine"].connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sessions_table)).scalar_one()


def _to_form(browser: httpx.Client, start: str) -> tuple[str, dict[str, str]]:
    """Click the link in the LMS: platform → tool login → platform auth → the launch form."""
    response = browser.get(start)
    for _ in range(4):
        if response.status_code not in (302, 303):
            break
        response = browser.get(response.headers["location"])
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return launch_form(response.text)


def _launch(world, user: str, browser: httpx.Client | None = None, **params: str) -> httpx.Response:
    browser = browser or httpx.Client(timeout=20)
    action, fields = _to_form(browser, world["platform"].launch_url(user, **params))
    return browser.post(action, data=fields)


def _handle(location: str) -> str:
    assert "?u=" in location, location
    return location.split("?u=", 1)[1]


def test_a_launch_signs_the_roster_learner_in_on_the_deep_linked_page(world):
    before = _session_count(world)
    response = _launch(world, "lms-ada", custom_assignment="explore")
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert location.startswith(world["tool_url"] + "/capstone?u=")
    handle = _handle(location)
    assert course_data.learner_from_token(world["config"], handle, world["sessions"]) == "ada"
    assert _session_count(world) == before + 1
    # the launch taught the course where the LMS keeps its line items and who ada is there
    (context,) = lti.contexts(world["course"])
    assert context.context_id == "course-101" and context.members["ada"] == "lms-ada"
    assert context.lineitems.endswith("/course-101/lineitems") and lti.SCORE_SCOPE in context.scope


def test_the_handle_a_launch_gives_opens_the_app_signed_in(world, monkeypatch):
    from streamlit.testing.v1 import AppTest

    response = _launch(world, "lms-ada", custom_assignment="explore")
    monkeypatch.setenv("THEATER_HOME", str(world["config"].home))
    monkeypatch.setenv("THEATER_COURSE", str(world["course"].root))
    at = AppTest.from_file(str(ROOT / "course" / "app.py"), default_timeout=120)
    at.query_params["u"] = _handle(response.headers["location"])
    at.run()
    assert not at.exception and at.session_state["learner_id"] == "ada"
    stranger = AppTest.from_file(str(ROOT / "course" / "app.py"), default_timeout=120)
    stranger.query_params["u"] = "not-a-handle-any-launch-gave"
    stranger.run()
    assert "learner_id" not in stranger.session_state


def test_a_custom_lms_user_id_claim_finds_the_learner_when_the_sub_is_opaque(world):
    response = _launch(world, "opaque-7f3a", custom_lms_user_id="lms-dan")
    assert response.status_code == 303
    handle = _handle(response.headers["location"])
    assert course_data.learner_from_token(world["config"], handle, world["sessions"]) == "dan"
    (context,) = lti.contexts(world["course"])
    assert context.members["dan"] == "opaque-7f3a"   # what push posts to, not the roster's id


def test_a_module_link_lands_on_the_module_and_a_plain_link_on_home(world):
    response = _launch(world, "lms-bob", custom_module="m1")
    assert response.status_code == 303 and "/module-m1?u=" in response.headers["location"]
    response = _launch(world, "lms-bob")
    assert response.status_code == 303 and "/home?u=" in response.headers["location"]


def _refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:400])
    assert words in response.text, response.text[:600]
    assert "?u=" not in response.headers.get("location", "")


def test_a_replayed_launch_is_refused_and_opens_no_session(world):
    browser = httpx.Client(timeout=20)
    action, fields = _to_form(browser, world["platform"].launch_url("lms-ada"))
    assert browser.post(action, data=fields).status_code == 303
    count = _session_count(world)
    _refused(browser.post(action, data=fields), 400, "already used")
    assert _session_count(world) == count


def test_an_expired_launch_is_refused(world):
    count = _session_count(world)
    _refused(_launch(world, "lms-ada", expires_in="-120"), 400, "expired")
    assert _session_count(world) == count


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_or_forged_token_is_refused(world):
    count = _session_count(world)
    browser = httpx.Client(timeout=20)
    action, fields = _to_form(browser, world["platform"].launch_url("lms-ada"))
    header, body, signature = fields["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    tampered = dict(fields, id_token=".".join([header, _b64({**claims, "sub": "lms-bob"}), signature]))
    _refused(browser.post(action, data=tampered), 400, "not signed by the registered LMS")

    browser = httpx.Client(timeout=20)
    action, fields = _to_form(browser, world["platform"].launch_url("lms-ada"))
    header = jwt.get_unverified_header(fields["id_token"])
    claims = jwt.decode(fields["id_token"], options={"verify_signature": False})
    other_key, _ = rsa_pair()   # someone else's key, claiming the platform's key id
    forged = jwt.encode({**claims, "sub": "lms-bob"}, other_key, algorithm="RS256", headers={"kid": header["kid"]})
    _refused(browser.post(action, data=dict(fields, id_token=forged)), 400, "not signed by the registered LMS")
    assert _session_count(world) == count


def test_a_launch_posted_from_another_browser_is_refused(world):
    action, fields = _to_form(httpx.Client(timeout=20), world["platform"].launch_url("lms-ada"))
    _refused(httpx.Client(timeout=20).post(action, data=fields), 400, "did not start in this browser")


def test_an_lms_user_off_the_roster_is_told_so(world):
    count = _session_count(world)
    _refused(_launch(world, "lms-stranger"), 403, "not on this course")
    response = _launch(world, "lms-teacher", role=INSTRUCTOR_ROLE)
    _refused(response, 403, "staff account")
    assert _session_count(world) == count


def test_an_unregistered_platform_cannot_launch(world):
    stranger = Platform(client_id="someone-else")
    stranger.configure_tool(world["tool_url"])
    stranger.serve()
    try:
        browser = httpx.Client(timeout=20)
        response = browser.get(stranger.launch_url("lms-ada"))
        response = browser.get(response.headers["location"])   # the tool's login page
        _refused(response, 400, "not registered")
    finally:
        stranger.stop()


def test_a_deployment_the_course_did_not_register_cannot_launch(world):
    """The registered LMS (same issuer, client and keys) launching from another deployment."""
    platform = world["platform"]
    other = Platform(deployment_id="deployment-9")
    other.private_key, other.public_key, other.issuer = platform.private_key, platform.public_key, platform.issuer
    other.configure_tool(world["tool_url"])
    other.serve()
    try:
        browser = httpx.Client(timeout=20)
        login = browser.get(other.launch_url("lms-ada")).headers["location"]
        authorize = browser.get(login).headers["location"]
        assert authorize.startswith(platform.base + "/authorize?")   # the registration's auth URL
        page = browser.get(other.base + authorize[len(platform.base):])   # served by the other deployment
        action, fields = launch_form(page.text)
        count = _session_count(world)
        _refused(browser.post(action, data=fields), 400, "deployment is not registered")
        assert _session_count(world) == count
    finally:
        other.stop()


def test_the_tool_serves_its_public_key_and_only_posts_reach_the_launch(world):
    keys = httpx.get(world["tool_url"] + "/lti/jwks").json()
    assert keys == lti.tool_jwks(world["course"]) and "d" not in keys["keys"][0]   # no private part
    assert httpx.get(world["tool_url"] + "/lti/launch").status_code == 405
    assert httpx.get(world["tool_url"] + "/_stcore/health").status_code == 200  # Streamlit still answers


def _scores(platform) -> dict[str, float]:
    return {s["userId"]: s["scoreGiven"] for s in platform.scores}


def test_push_posts_each_effective_score_once_and_says_what_failed(world, capsys):
    course, platform = world["course"], world["platform"]
    for user in ("lms-ada", "lms-bob"):
        assert _launch(world, user).status_code == 303
    platform.scores.clear()

    assert theater(["lti", "push", "explore", "--dry-run", "--course", str(course.root)]) == 2
    assert platform.scores == [] and platform.lineitems == {}
    out = capsys.readouterr()
    assert "ada: 4.5 would post" in out.out

    assert theater(["lti", "push", "explore", "--course", str(course.root)]) == 2
    out = capsys.readouterr()
    assert "cyd: not posted: no LMS user id" in out.out
    assert "eve: not posted: the LMS answered HTTP 422" in out.out
    assert "sent as the roster's lms_user_id lms-eve" in out.out   # eve never launched: why it may differ
    assert "2 scores did not reach the LMS" in out.err
    (item,) = platform.lineitems.values()
    assert item["tag"] == "explore" and item["scoreMaximum"] == 6.0
    # what the LMS received is what `theater export` writes, learner by learner
    exported = {row["student_id"]: float(row["score"]) for row in
                csv.DictReader(open(export_grades(course, "nbgrader", world["course"].root / "g.csv")))}
    assert _scores(platform) == {"lms-ada": exported["ada"], "lms-bob": exported["bob"]} == \
        {"lms-ada": 4.5, "lms-bob": 6.0}
    assert {s["gradingProgress"] for s in platform.scores} == {"FullyGraded"}
    assert "lms-dan" not in _scores(platform)        # no submission: nothing posted

    posted = len(platform.scores)
    theater(["lti", "push", "explore", "--course", str(course.root)])   # again: nothing new to send
    assert len(platform.scores) == posted and len(platform.lineitems) == 1

    override(course, "explore", "ada", "weekly_table", 5.0, "re-read: the table is right")
    theater(["lti", "push", "explore", "--course", str(course.root)])
    assert platform.scores[posted:] and {s["userId"]: s["scoreGiven"] for s in platform.scores[posted:]} == \
        {"lms-ada": 5.0}
    assert len(platform.lineitems) == 1


def test_push_with_nothing_failing_exits_zero(world):
    course = world["course"]
    with gradebook(course) as gb:   # the roster gives cyd an LMS id and eve one the LMS course knows
        gb.update_or_create_student("cyd", lms_user_id="lms-cyd")
        gb.update_or_create_student("eve", lms_user_id="lms-eve-2")
    world["platform"].members |= {"lms-cyd", "lms-eve-2"}
    try:
        assert theater(["lti", "push", "explore", "--course", str(course.root)]) == 0
        assert _scores(world["platform"])["lms-cyd"] == 3.0 and _scores(world["platform"])["lms-eve-2"] == 2.0
    finally:
        with gradebook(course) as gb:
            gb.update_or_create_student("cyd", lms_user_id=None)
            gb.update_or_create_student("eve", lms_user_id="lms-eve")
        world["platform"].members -= {"lms-cyd", "lms-eve-2"}


def _gradebook_page(world, monkeypatch, role: str):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("THEATER_HOME", str(world["config"].home))
    monkeypatch.setenv("THEATER_COURSE", str(world["course"].root))
    at = AppTest.from_file(str(ROOT / "course" / "app_pages" / "instructor_gradebook.py"), default_timeout=120)
    at.session_state["staff_role"] = role
    at.session_state["staff_user"] = "staff"
    return at.run()


def test_the_gradebook_page_previews_and_sends_scores_to_the_lms(world, monkeypatch):
    """The instructor's button does what `theater lti push` does; a TA sees no button."""
    course, platform = world["course"], world["platform"]
    for user in ("lms-ada", "lms-bob"):
        assert _launch(world, user).status_code == 303
    override(course, "explore", "bob", "weekly_table", 5.5, "one week is off")

    ta = _gradebook_page(world, monkeypatch, "ta")
    assert not ta.exception and "Only an instructor sends scores to the LMS." in [c.value for c in ta.caption]
    assert not [b for b in ta.button if b.label.startswith("Send ")]

    at = _gradebook_page(world, monkeypatch, "instructor")
    assert not at.exception
    posted = len(platform.scores)
    next(b for b in at.button if b.label == "Preview (nothing is sent)").click().run()
    assert not at.exception and len(platform.scores) == posted
    assert any("would post" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Send explore scores").click().run()
    assert not at.exception
    summary = " ".join(w.value for w in at.warning)
    assert "posted" in summary and "failed" in summary          # cyd and eve cannot be posted
    assert _scores(platform)["lms-bob"] == 5.5                  # the override, as the export has it


# ----------------------------------------------------------------------------- no server needed


@pytest.mark.parametrize("path, route", [
    ("/lti/login", "/lti/login"), ("/course/lti/launch", "/lti/launch"), ("//lti//jwks/", "/lti/jwks"),
    ("/", None), ("/capstone", None), ("/lti/loginx", None), ("/_stcore/health", None),
])
def test_only_the_lti_paths_are_answered_in_front_of_streamlit(path, route):
    assert route_of(path) == route


def test_the_landing_page_never_leaves_the_app():
    custom = "https://purl.imsglobal.org/spec/lti/claim/custom"
    target = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"
    assert landing_page({custom: {"assignment": "explore"}}, {"explore"}) == "capstone"
    assert landing_page({custom: {"assignment": "nope"}}, {"explore"}) == "home"
    assert landing_page({custom: {"module": "../../evil"}}, set()) == "home"
    assert landing_page({target: "https://evil.example/x?y"}, set()) == "home"
    assert landing_page({target: "https://app.example/my-learning"}, set()) == "my-learning"


def test_keys_are_private_and_not_replaced_by_accident(tmp_path, capsys):
    course = init_course(tmp_path / "c", data={"employees": 20, "days": 30})
    assert theater(["lti", "keys", "--course", str(course.root)]) == 0
    mode = stat.S_IMODE(os.stat(lti.private_key_path(course)).st_mode)
    assert mode == 0o600
    first = lti.private_key_path(course).read_text()
    assert theater(["lti", "keys", "--course", str(course.root)]) == 2
    assert "already has keys" in capsys.readouterr().err
    assert lti.private_key_path(course).read_text() == first


def test_register_refuses_a_bad_url_and_push_without_a_launch_says_what_to_do(tmp_path, capsys):
    course = init_course(tmp_path / "c", data={"employees": 20, "days": 30})
    args = ["--issuer", "https://lms.example", "--client-id", "c1", "--deployment-id", "d1",
            "--auth-url", "https://lms.example/auth", "--token-url", "token", "--jwks-url", "https://lms.example/k",
            "--course", str(course.root)]
    assert theater(["lti", "register", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--token-url 'token' is not an http(s) URL" in err
    args[args.index("token")] = "https://lms.example/token"
    assert theater(["lti", "register", *args]) == 0
    out = capsys.readouterr().out
    assert "http://localhost:8501/lti/login" in out and "theater lti keys" in out
    assert theater(["lti", "push", "explore", "--course", str(course.root)]) == 2
    assert "open any assignment link from the LMS once" in capsys.readouterr().err


def test_the_grader_side_of_lti_imports_nothing_of_the_app():
    code = ("import sys, grader.lti, grader.lti_commands, grader.export; "
            "print(sorted(m for m in sys.modules if m == 'course' or m.startswith('course.')))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.strip()
    assert found == "[]"
