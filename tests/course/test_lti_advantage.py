"""LTI Advantage beyond the learner's launch, end to end against the real platform of lti_platform.py:
staff launches (who the course vouched for, with which role), roster sync through Names and Role
Provisioning, Deep Linking, all through the real `theater app` serving HTTPS itself (Streamlit's
TLS options, a self-signed certificate the test's browser and platform trust), so the login's
state cookie takes its `Secure; SameSite=None` path."""

from __future__ import annotations

import datetime as dt
import html
import ipaddress
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from course import auth
from course.lti import open_site
from grader import lti
from grader.assign import Learner, _register_learners, roster
from grader.course_dir import init_course
from tests.course.lti_platform import (INSTITUTION_INSTRUCTOR_ROLE, INSTRUCTOR_ROLE, LEARNER_ROLE, TA_ROLE, Platform,
                                       free_port, launch_form, member, rsa_pair)
from tests.e2e.support import theater_app
from theater.cli import main as theater

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lti")]
PASSWORD = "a-long-staff-password"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "tool.crt", folder / "tool.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lti-tls")
    course = init_course(tmp / "course", data={"employees": 20, "days": 30}, secret="lti-tls-secret")
    _register_learners(course, None, [      # kim: Canvas's numeric id and a SIS id, from a CSV roster
        Learner("ada", "Ada", "Test", "ada@uni.example", "lms-ada"), Learner("bob", "Bob", "Test", "bob@uni.example"),
        Learner("cyd", "Cyd", "Test"), Learner("kim", "Kim", "Test", "kim@uni.example", "8817", sis_user_id="S-0042")])
    cert, key = _self_signed(tmp)
    port = free_port()
    tool_url = f"https://127.0.0.1:{port}"
    platform = Platform()
    platform.members = {"lms-ada"}
    platform.configure_tool(tool_url)
    platform.serve()
    assert theater(["lti", "keys", "--course", str(course.root)]) == 0
    assert theater(["lti", "register", *platform.register_args(), "--tool-url", tool_url,
                    "--course", str(course.root)]) == 0
    home = tmp / "home"
    site = open_site(str(home), str(course.root))     # the app's own files, read by the tests
    staff_file = site.config.staff_path
    auth.add_staff(staff_file, "prof", "instructor", PASSWORD)
    auth.add_staff(staff_file, "tia", "ta", PASSWORD)
    auth.add_staff(staff_file, "unlinked", "instructor", PASSWORD)
    assert theater(["users", "link", "prof", "--issuer", platform.issuer, "--sub", "lms-prof",
                    "--home", str(home), "--course", str(course.root)]) == 0
    auth.link_staff(staff_file, "tia", platform.issuer, "lms-tia")

    # the real `theater app`, serving TLS itself (Streamlit's server.sslCertFile / sslKeyFile)
    tls_files = {"STREAMLIT_SERVER_SSL_CERT_FILE": str(cert), "STREAMLIT_SERVER_SSL_KEY_FILE": str(key)}
    try:
        with theater_app(port, home, course.root, env=tls_files) as app:
            deadline = time.monotonic() + 180
            while not _answers(tool_url + "/lti/jwks", str(cert)) and app.poll() is None:
                assert time.monotonic() < deadline, "theater app did not serve /lti/jwks over TLS in 180 s"
                time.sleep(0.3)
            assert app.poll() is None, f"theater app exited with {app.returncode}"
            with pytest.MonkeyPatch.context() as patch:   # the platform fetches the tool's key set over TLS
                patch.setenv("REQUESTS_CA_BUNDLE", str(cert))
                browsers: list[httpx.Client] = []
                yield {"course": course, "platform": platform, "tool_url": tool_url, "site": site, "home": home,
                       "cert": str(cert), "browsers": browsers}
                for browser in browsers:   # an open keep-alive connection holds the server's shutdown
                    browser.close()
    finally:
        platform.stop()


def _answers(url: str, cert: str) -> bool:
    try:
        return httpx.get(url, timeout=2, verify=cert).status_code == 200
    except httpx.HTTPError:
        return False


def _browser(tls) -> httpx.Client:
    browser = httpx.Client(timeout=20, verify=tls["cert"])
    tls["browsers"].append(browser)
    return browser


def _to_form(browser: httpx.Client, start: str) -> tuple[str, dict[str, str], httpx.Response]:
    """Click the link in the LMS: platform → tool login (over TLS) → platform auth → the launch form."""
    login = browser.get(start)
    assert login.status_code == 302, login.text[:300]
    to_platform = browser.get(login.headers["location"])   # the tool's /lti/login
    assert to_platform.status_code == 302, to_platform.text[:300]
    page = browser.get(to_platform.headers["location"])
    assert page.status_code == 200, (page.status_code, page.text[:300])
    action, fields = launch_form(page.text)
    return action, fields, to_platform


def _launch(tls, user: str, browser: httpx.Client | None = None, **params: str) -> httpx.Response:
    browser = browser or _browser(tls)
    action, fields, _ = _to_form(browser, tls["platform"].launch_url(user, **params))
    return browser.post(action, data=fields)


def _staff_sessions(tls) -> list:
    return [s for s in tls["site"].sessions.active(("staff",))]


def _handle(response: httpx.Response, param: str) -> str:
    return parse_qs(urlparse(response.headers["location"]).query)[param][0]


def _refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:400])
    assert words in html.unescape(response.text), response.text[:600]
    assert "?u=" not in response.headers.get("location", "") and "?staff=" not in response.headers.get("location", "")


# ----------------------------------------------------------------------------- HTTPS cookie path


def test_over_https_the_state_cookie_is_secure_and_cross_site_and_the_launch_signs_in(tls):
    browser = _browser(tls)
    assert browser.get(tls["tool_url"] + "/_stcore/health").status_code == 200   # Streamlit itself, over TLS
    action, fields, login = _to_form(browser, tls["platform"].launch_url("lms-ada"))
    cookie = login.headers["set-cookie"].lower()
    assert cookie.startswith("lti1p3-") and "secure" in cookie and "samesite=none" in cookie and "httponly" in cookie
    assert action == tls["tool_url"] + "/lti/launch"
    response = browser.post(action, data=fields)          # the Secure cookie goes back over TLS
    assert response.status_code == 303 and response.headers["location"].startswith(tls["tool_url"] + "/home?u=")
    # the same launch without the cookie (a browser that withheld it) is refused
    action, fields, _ = _to_form(_browser(tls), tls["platform"].launch_url("lms-ada"))
    _refused(_browser(tls).post(action, data=fields), 400, "did not start in this browser")


# ----------------------------------------------------------------------------- staff launch


def test_a_linked_instructor_lands_signed_in_as_staff_with_the_session_the_sign_in_page_makes(tls):
    before = {s.id for s in _staff_sessions(tls)}
    response = _launch(tls, "lms-prof", role=INSTRUCTOR_ROLE)
    assert response.status_code == 303, response.text[:400]
    assert response.headers["location"].startswith(tls["tool_url"] + "/instructor?staff=")
    handle = _handle(response, "staff")
    (new,) = [s for s in _staff_sessions(tls) if s.id not in before]
    accounts = auth.load_staff(tls["site"].config.staff_path)
    # the same kind of session the staff sign-in page opens: kind staff, the account, its password version
    assert (new.kind, new.who, new.role, new.credential) == ("staff", "prof", "instructor", accounts["prof"].version)
    assert auth.staff_from_session(tls["site"].sessions, handle, accounts).role == "instructor"


def test_the_app_opens_signed_in_as_staff_from_the_launch_handle(tls, monkeypatch):
    from streamlit.testing.v1 import AppTest

    handle = _handle(_launch(tls, "lms-tia", role=TA_ROLE, custom_assignment="explore"), "staff")
    monkeypatch.setenv("THEATER_HOME", str(tls["home"]))
    monkeypatch.setenv("THEATER_COURSE", str(tls["course"].root))
    at = AppTest.from_file(str(ROOT / "course" / "app.py"), default_timeout=120)
    at.query_params["staff"] = handle
    at.run()
    assert not at.exception
    assert at.session_state["staff_role"] == "ta" and at.session_state["staff_user"] == "tia"


def test_an_instructor_account_launched_as_a_ta_gets_only_the_ta_role(tls):
    response = _launch(tls, "lms-prof", role=TA_ROLE, custom_assignment="explore")
    assert response.status_code == 303
    assert response.headers["location"].startswith(tls["tool_url"] + "/instructor-assignments?staff=")
    accounts = auth.load_staff(tls["site"].config.staff_path)
    account = auth.staff_from_session(tls["site"].sessions, _handle(response, "staff"), accounts)
    assert account.name == "prof" and account.role == "ta"
    assert not auth.has_grant(account.role, "instructor")


def test_a_role_claim_alone_gives_no_staff_power(tls):
    before = len(_staff_sessions(tls))
    # a roster learner whose launch says Instructor: signed in as the learner, nothing more
    response = _launch(tls, "lms-ada", role=INSTRUCTOR_ROLE)
    assert response.status_code == 303 and "?u=" in response.headers["location"]
    # an LMS instructor nobody linked: refused, told how to get linked
    response = _launch(tls, "lms-stranger", role=INSTRUCTOR_ROLE)
    _refused(response, 403, "theater users link YOUR-ACCOUNT --issuer")
    assert "--sub lms-stranger" in response.text
    # a linked staff member launching as a learner of the LMS course
    _refused(_launch(tls, "lms-prof", role=LEARNER_ROLE), 403, "not on this course")
    # an institution-wide instructor role is no staff role in this course (context roles decide)
    _refused(_launch(tls, "lms-prof", role=f"{LEARNER_ROLE},{INSTITUTION_INSTRUCTOR_ROLE}"), 403, "not on this course")
    assert len(_staff_sessions(tls)) == before


def test_a_registration_that_trusts_lms_staff_roles_signs_them_in_up_to_its_role(tls, capsys):
    """`theater lti register --trust-staff ta`: an unlinked Instructor launch signs in as a TA (the
    lesser of the two) under an account made for that LMS user, a Learner launch stays a learner's,
    a linked account keeps its own rule, and `--trust-staff none` withdraws it."""
    course_args = ["--course", str(tls["course"].root)]
    register = ["lti", "register", *tls["platform"].register_args(), *course_args]
    staff_file = tls["site"].config.staff_path
    name = auth.lms_account_name(tls["platform"].issuer, "lms-trusted")
    try:
        assert theater([*register, "--trust-staff", "ta"]) == 0
        assert "sign in as staff up to ta" in capsys.readouterr().out
        response = _launch(tls, "lms-trusted", role=INSTRUCTOR_ROLE, name="Grace\u200b  Hopper\n**boss**")
        assert response.status_code == 303, response.text[:400]
        accounts = auth.load_staff(staff_file)
        account = auth.staff_from_session(tls["site"].sessions, _handle(response, "staff"), accounts)
        assert account.name == name and account.role == "ta" and not auth.has_grant(account.role, "instructor")
        assert accounts[name].lms_identities == {(tls["platform"].issuer, "lms-trusted")}
        # the hash-named account carries the person's name from the launch (printable, one line)
        assert accounts[name].display_name == "Grace Hopper **boss**"
        assert accounts[name].label == f"{name} (Grace Hopper **boss**, from the LMS)"
        assert theater(["users", "list", "--home", str(tls["home"]), *course_args]) == 0
        assert f"{name} (Grace Hopper **boss**, from the LMS)  ta" in capsys.readouterr().out
        # a later launch with another name renames it; one without a name keeps the last
        _launch(tls, "lms-trusted", role=INSTRUCTOR_ROLE, name="Grace M. Hopper")
        _launch(tls, "lms-trusted", role=INSTRUCTOR_ROLE, name="")
        assert auth.load_staff(staff_file)[name].display_name == "Grace M. Hopper"
        assert auth.verify_staff(accounts, name, PASSWORD) is None       # no password opens it
        # a learner role in the LMS course gives nothing; a linked account keeps the lesser-role rule
        _refused(_launch(tls, "lms-other", role=LEARNER_ROLE), 403, "not on this course")
        linked = _launch(tls, "lms-prof", role=INSTRUCTOR_ROLE)
        assert auth.staff_from_session(tls["site"].sessions, _handle(linked, "staff"),
                                       auth.load_staff(staff_file)).name == "prof"
        # registering again without the flag keeps the trust; --trust-staff none withdraws it
        assert theater(register) == 0 and _launch(tls, "lms-trusted", role=INSTRUCTOR_ROLE).status_code == 303
        assert theater([*register, "--trust-staff", "none"]) == 0
        _refused(_launch(tls, "lms-trusted", role=INSTRUCTOR_ROLE), 403, "theater users link")
    finally:
        theater([*register, "--trust-staff", "none"])
    with pytest.raises(SystemExit):            # argparse names the choices
        theater([*register, "--trust-staff", "everyone"])
    assert "choose from 'none', 'ta', 'instructor'" in capsys.readouterr().err


def test_a_link_is_to_one_lms_and_unlinking_ends_the_sessions_it_opened(tls, capsys):
    staff_file = tls["site"].config.staff_path
    auth.link_staff(staff_file, "unlinked", "https://another-lms.example", "lms-ulla")
    _refused(_launch(tls, "lms-ulla", role=INSTRUCTOR_ROLE), 403, "theater users link")   # same sub, other issuer
    auth.link_staff(staff_file, "unlinked", tls["platform"].issuer, "lms-ulla")
    response = _launch(tls, "lms-ulla", role=INSTRUCTOR_ROLE)
    handle = _handle(response, "staff")
    sessions = tls["site"].sessions
    assert auth.staff_from_session(sessions, handle, auth.load_staff(staff_file)).name == "unlinked"
    args = ["--issuer", tls["platform"].issuer, "--sub", "lms-ulla", "--home", str(tls["home"]),
            "--course", str(tls["course"].root)]
    assert theater(["users", "link", "prof", *args]) == 2          # one LMS user, one account
    assert "linked to staff account 'unlinked' already" in capsys.readouterr().err
    assert theater(["users", "unlink", "unlinked", *args]) == 0
    assert auth.staff_from_session(sessions, handle, auth.load_staff(staff_file)) is None
    assert sessions.lookup(handle) is None
    assert theater(["users", "list", "--home", str(tls["home"]), "--course", str(tls["course"].root)]) == 0
    assert f"prof  instructor  LMS {tls['platform'].issuer} user lms-prof" in capsys.readouterr().out


def test_the_lesser_role_rule():
    assert auth.lms_staff_role("instructor", ["instructor"]) == "instructor"
    assert auth.lms_staff_role("instructor", ["ta"]) == "ta"
    assert auth.lms_staff_role("ta", ["instructor"]) == "ta"
    assert auth.lms_staff_role("instructor", ["ta", "instructor"]) == "instructor"  # the LMS's highest, capped
    assert auth.lms_staff_role("ta", ["ta", "instructor"]) == "ta"
    assert auth.lms_staff_role("trainer", ["ta"]) is None
    assert auth.lms_staff_role("instructor", []) is None


# ----------------------------------------------------------------------------- roster sync (NRPS)


def test_roster_sync_merges_the_lms_learners_pages_and_all_and_removes_nobody(tls, capsys):
    course, platform = tls["course"], tls["platform"]
    assert _launch(tls, "lms-prof", role=INSTRUCTOR_ROLE).status_code == 303   # the launch names the NRPS URL
    (context,) = lti.contexts(course)
    assert context.memberships_url == f"{platform.base}/course-101/memberships"
    platform.roster = [
        member("lms-ada", "Ada Test", "ada@uni.example"),                       # known by lms_user_id
        member("lms-bob", "Bob Test", "BOB@uni.example"),                       # known by e-mail only
        member("lms-new", "Zoë Ångström", "zoe.angstrom@uni.example"),          # new
        member("lms-prof", "Pat Prof", "prof@uni.example", role=INSTRUCTOR_ROLE),   # staff: not a learner
        member("lms-kim", "Kim Test", "kim@uni.example", lis_person_sourcedid="S-0042"),   # by SIS id
        member("lms-gone", "Gus Gone", "gus@uni.example", status="Inactive"),
        member("lms-new2", "Zoe Angstrom", ""),                                 # same name: another id
        member("lms-eve", "Eve Evil", "kim@uni.example"),                       # kim's e-mail, kim is taken
    ]
    root = ["--course", str(course.root)]
    before = roster(course)
    pages = platform.member_pages_served
    assert theater(["lti", "roster", "--dry-run", *root]) == 0
    out = capsys.readouterr().out
    assert roster(course) == before and "dry run: nothing written" in out
    assert "zoe.angstrom: would add (LMS user lms-new)" in out

    assert theater(["lti", "roster", *root]) == 0
    out = capsys.readouterr().out
    assert platform.member_pages_served - pages == 2 * 4               # 8 members, 2 a page: 4 pages, twice
    now = {learner.id: learner for learner in roster(course)}
    assert {l.id for l in before} <= set(now)                           # nobody removed
    assert set(now) - {l.id for l in before} == {"zoe.angstrom", "zoe.angstrom-2"}
    assert now["ada"].lms_user_id == "lms-ada"
    assert now["zoe.angstrom"].lms_user_id == "lms-new" and now["zoe.angstrom"].first_name == "Zoë"
    assert now["zoe.angstrom-2"].lms_user_id == "lms-new2"
    assert now["kim"].lms_user_id == "8817"                            # the roster's id stays …
    assert lti.contexts(course)[0].members["kim"] == "lms-kim"         # … push posts to the LMS's
    assert "kim: linked to LMS user lms-kim (matched by SIS id; the roster keeps lms_user_id 8817)" in out
    # an e-mail alone does not make an LMS user someone on the roster: anyone may change theirs
    assert now["bob"].lms_user_id == ""
    assert "LMS user lms-bob (Bob Test) has the e-mail of bob, who has no LMS id yet: not merged" in out
    assert "LMS user lms-eve (Eve Evil) has the e-mail of kim, who is known to the LMS by another id" in out
    lms_ids = {l.lms_user_id for l in now.values()}
    assert not {"lms-prof", "lms-gone", "lms-eve"} & lms_ids
    assert "cyd: on the roster but not listed by the LMS: kept" in out
    assert "2 added, 1 linked to their LMS id, 1 unchanged, 1 on the roster but not active learners in the " \
           "LMS (kept), 2 not merged, 1 staff skipped (4 pages read)" in out
    assert "2 new access code(s)" in out and (course.root / "access-codes.csv").is_file()

    assert theater(["lti", "roster", "--match-email", *root]) == 0     # the instructor trusts the LMS's e-mails
    out = capsys.readouterr().out
    assert roster(course)[[l.id for l in roster(course)].index("bob")].lms_user_id == "lms-bob"
    assert "bob: linked to LMS user lms-bob (matched by e-mail)" in out
    assert "0 added, 1 linked to their LMS id, 4 unchanged" in out and "lms-eve" in out   # eve: still not kim
    assert theater(["lti", "roster", *root]) == 0                     # again: nothing to do
    assert "0 added, 0 linked to their LMS id, 5 unchanged" in capsys.readouterr().out
    assert {l.id for l in roster(course)} == set(now)


def test_the_roster_page_previews_and_merges_the_lms_roster(tls, monkeypatch):
    """The instructor's buttons do what `theater lti roster` does (after the command's test: file order)."""
    from streamlit.testing.v1 import AppTest

    course, platform = tls["course"], tls["platform"]
    assert _launch(tls, "lms-prof", role=INSTRUCTOR_ROLE).status_code == 303
    platform.roster = [member("lms-ada", "Ada Test", "ada@uni.example"),
                       member("lms-page", "Pia Page", "pia@uni.example")]
    monkeypatch.setenv("THEATER_HOME", str(tls["home"]))
    monkeypatch.setenv("THEATER_COURSE", str(course.root))
    at = AppTest.from_file(str(ROOT / "course" / "app_pages" / "instructor_roster.py"), default_timeout=120)
    at.session_state["staff_role"] = "instructor"
    at.session_state["staff_user"] = "prof"
    at.run()
    assert not at.exception
    next(b for b in at.button if b.label == "Preview the LMS roster (nothing is written)").click().run()
    assert not at.exception and "pia" not in {l.id for l in roster(course)}
    assert any("1 added" in s.value and "dry run" in s.value for s in at.success)
    assert any("pia: would add (LMS user lms-page)" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Merge the LMS roster").click().run()
    assert not at.exception
    assert {l.lms_user_id for l in roster(course) if l.id == "pia"} == {"lms-page"}
    assert any(b.label.startswith("Download the 1 new learners' access codes") for b in at.get("download_button"))


@pytest.mark.parametrize("fault, words", [
    ("not-json", "is not JSON"),
    ("unauthorised", "the LMS answered HTTP 401"),
    ("not-members", "not an NRPS membership container"),
    ("foreign-next", "is on another server (https://elsewhere.example/members?page=2)"),
    ("loop", "does not end"),
])
def test_roster_sync_says_what_the_lms_answered_and_changes_nothing(tls, capsys, fault, words):
    course, platform = tls["course"], tls["platform"]
    assert _launch(tls, "lms-prof", role=INSTRUCTOR_ROLE).status_code == 303
    before = roster(course)
    platform.roster = [member("lms-x", "Xavier Q", "x@uni.example")]
    platform.memberships_fault = fault
    try:
        assert theater(["lti", "roster", "--course", str(course.root)]) == 2
    finally:
        platform.memberships_fault = ""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert roster(course) == before


def test_roster_sync_needs_a_memberships_url_and_refuses_a_bad_one(tmp_path, capsys):
    course = init_course(tmp_path / "c", data={"employees": 20, "days": 30})
    assert theater(["lti", "roster", "--course", str(course.root)]) == 2
    assert "open the app's link from the LMS once" in capsys.readouterr().err
    assert theater(["lti", "register", "--issuer", "https://lms.example", "--client-id", "c", "--deployment-id", "d",
                    "--auth-url", "https://lms.example/a", "--token-url", "https://lms.example/t",
                    "--jwks-url", "https://lms.example/k", "--course", str(course.root)]) == 0
    capsys.readouterr()
    assert theater(["lti", "roster", "--url", "ftp://lms.example/m", "--course", str(course.root)]) == 2
    assert "is not an http(s) URL" in capsys.readouterr().err


# ----------------------------------------------------------------------------- deep linking


def _picker(tls, user: str = "lms-prof", role: str = INSTRUCTOR_ROLE, **params) -> tuple[httpx.Client, httpx.Response]:
    browser = _browser(tls)
    return browser, _launch(tls, user, browser, role=role, message="deep_link", **params)


PICKER_FIELD = r'<input type=hidden name=token value="([^"]+)">'


def _token(page: str) -> str:
    return re.search(PICKER_FIELD, page).group(1)


def test_deep_linking_answers_the_lms_with_signed_links_it_then_launches(tls):
    platform = tls["platform"]
    browser, picker = _picker(tls)
    assert picker.status_code == 200 and "What should this link open?" in picker.text
    assert 'value="assignment:explore"' in picker.text and 'value="module:' in picker.text
    module = next(line.split('value="module:')[1].split('"')[0] for line in picker.text.split("<p>")
                  if 'value="module:' in line)
    items_before, lines_before = len(platform.content_items), len(platform.lineitems)
    answer = browser.post(tls["tool_url"] + "/lti/deep-link",
                          data={"token": _token(picker.text), "item": ["assignment:explore", f"module:{module}"]})
    assert answer.status_code == 200
    action = answer.text.split('action="')[1].split('"')[0]
    fields = {"JWT": answer.text.split('value="')[1].split('"')[0]}
    assert action == platform.base + "/deep-link-return"
    returned = httpx.post(action, data=fields)                   # the platform checks the tool's signature
    assert returned.status_code == 200, returned.text
    explore, mod = platform.content_items[items_before:]
    assert explore["type"] == "ltiResourceLink" and explore["url"] == tls["tool_url"] + "/lti/launch"
    assert explore["custom"] == {"assignment": "explore"} and mod["custom"] == {"module": module}
    assert explore["lineItem"] == {"scoreMaximum": 6.0, "label": "explore", "resourceId": "explore", "tag": "explore"}
    assert "lineItem" not in mod
    (item,) = list(platform.lineitems.values())[lines_before:]
    assert item["tag"] == "explore"                               # the column `theater lti push` finds
    # the links the LMS now holds open what was picked
    landed = _launch(tls, "lms-ada", **{f"custom_{k}": v for k, v in explore["custom"].items()})
    assert landed.status_code == 303 and "/capstone?u=" in landed.headers["location"]
    landed = _launch(tls, "lms-ada", custom_module=module)
    assert f"/module-{module}?u=" in landed.headers["location"]
    # the picker answers once
    again = browser.post(tls["tool_url"] + "/lti/deep-link",
                         data={"token": _token(picker.text), "item": "assignment:explore"})
    _refused(again, 400, "already sent")


def test_a_forged_deep_linking_response_is_refused_by_the_platform(tls):
    platform = tls["platform"]
    browser, picker = _picker(tls)
    answer = browser.post(tls["tool_url"] + "/lti/deep-link",
                          data={"token": _token(picker.text), "item": "assignment:explore"})
    signed = answer.text.split('value="')[1].split('"')[0]
    claims = pyjwt.decode(signed, options={"verify_signature": False})
    claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]["custom"] = {"assignment": "other"}
    other_key, _ = rsa_pair()
    forged = pyjwt.encode(claims, other_key, algorithm="RS256", headers=pyjwt.get_unverified_header(signed))
    before = len(platform.content_items)
    assert httpx.post(platform.base + "/deep-link-return", data={"JWT": forged}).status_code == 400
    assert len(platform.content_items) == before


def test_deep_linking_is_for_linked_staff_and_checks_the_choice(tls):
    _refused(_picker(tls, "lms-ada", LEARNER_ROLE)[1], 403, "Only the course's staff")
    _refused(_picker(tls, "lms-stranger")[1], 403, "theater users link")
    browser, picker = _picker(tls)
    token = _token(picker.text)
    url = tls["tool_url"] + "/lti/deep-link"
    _refused(browser.post(url, data={"token": token}), 400, "Choose an assignment or a module")
    _refused(browser.post(url, data={"token": token, "item": "assignment:../../etc"}), 400, "Choose an assignment")
    _refused(browser.post(url, data={"token": "made-up", "item": "assignment:explore"}), 400,
             "expired or was already sent")
    assert browser.get(url).status_code == 405
    # still usable after the wrong tries: the token is spent only by a valid answer
    assert browser.post(url, data={"token": token, "item": "assignment:explore"}).status_code == 200
    # a place that takes one link
    # a place that takes no LTI link (only files or HTML)
    _refused(_picker(tls, accept_types="file,html")[1], 400, "accepts no LTI links")
    browser, picker = _picker(tls, accept_multiple="false")
    assert "type=radio" in picker.text and "type=checkbox" not in picker.text
    module = picker.text.split('value="module:')[1].split('"')[0]
    _refused(browser.post(url, data={"token": _token(picker.text), "item": ["assignment:explore", f"module:{module}"]}),
             400, "takes one link")


def test_a_deep_linking_request_from_an_unregistered_platform_is_refused(tls):
    stranger = Platform(client_id="someone-else")
    stranger.configure_tool(tls["tool_url"])
    stranger.serve()
    try:
        browser = _browser(tls)
        response = browser.get(stranger.launch_url("lms-prof", role=INSTRUCTOR_ROLE, message="deep_link"))
        _refused(browser.get(response.headers["location"]), 400, "not registered with the course")
    finally:
        stranger.stop()


# ----------------------------------------------------------------------------- no server needed


def test_links_name_an_existing_account_and_survive_a_new_password(tmp_path):
    path = tmp_path / "staff.json"
    auth.add_staff(path, "prof", "instructor", PASSWORD)
    with pytest.raises(auth.AuthError, match="no staff account 'nobody'"):
        auth.link_staff(path, "nobody", "https://lms.example", "u1")
    with pytest.raises(auth.AuthError, match="must not be empty"):
        auth.link_staff(path, "prof", "https://lms.example", "  ")
    auth.link_staff(path, "prof", "https://lms.example", "u1")
    auth.link_staff(path, "prof", "https://lms.example", "u1")          # twice: still one link
    assert auth.load_staff(path)["prof"].lms_identities == {("https://lms.example", "u1")}
    auth.add_staff(path, "prof", "instructor", PASSWORD + "-new", replace=True)
    assert auth.load_staff(path)["prof"].lms_identities == {("https://lms.example", "u1")}
    assert auth.staff_for_lms(auth.load_staff(path), "https://lms.example", "u1").name == "prof"
    assert auth.staff_for_lms(auth.load_staff(path), "https://other.example", "u1") is None
    with pytest.raises(auth.AuthError, match="has no link to that LMS user"):
        auth.unlink_staff(path, "prof", "https://lms.example", "u2")
    auth.unlink_staff(path, "prof", "https://lms.example", "u1")
    assert auth.load_staff(path)["prof"].lms_identities == frozenset()


def test_a_session_never_holds_more_than_its_account(tmp_path):
    from course.progress import ProgressStore
    from course.sessions import SessionStore

    path = tmp_path / "staff.json"
    auth.add_staff(path, "tia", "ta", PASSWORD)
    sessions = SessionStore(ProgressStore(f"sqlite:///{tmp_path / 'p.db'}").engine)
    account = auth.load_staff(path)["tia"]
    with pytest.raises(auth.AuthError, match="cannot hold a session with the instructor role"):
        auth.staff_session(sessions, account, role="instructor")
    auth.add_staff(path, "ines", "instructor", PASSWORD)
    handle = auth.staff_session(sessions, auth.load_staff(path)["ines"], role="ta")
    auth.add_staff(path, "ines", "trainer", PASSWORD, replace=True)      # role changed (and password)
    assert auth.staff_from_session(sessions, handle, auth.load_staff(path)) is None


def test_a_refused_launch_from_another_lms_course_records_nothing(tls):
    """Another LMS course of the same deployment (same issuer, client and keys): its stranger's
    launch is refused and does not become an LMS course `theater lti push` must choose among."""
    platform = tls["platform"]
    other = Platform(context_id="course-999")
    other.private_key, other.public_key, other.issuer = platform.private_key, platform.public_key, platform.issuer
    other.configure_tool(tls["tool_url"])
    other.serve()
    try:
        before = lti.contexts(tls["course"])
        browser = _browser(tls)
        login = browser.get(other.launch_url("lms-stranger")).headers["location"]
        authorize = browser.get(login).headers["location"]
        page = browser.get(other.base + authorize[len(platform.base):])   # served by the other course
        action, fields = launch_form(page.text)
        _refused(browser.post(action, data=fields), 403, "not on this course")
        assert lti.contexts(tls["course"]) == before
    finally:
        other.stop()


def test_the_sessions_page_says_which_staff_sessions_an_lms_launch_opened(tmp_path):
    from course.progress import ProgressStore
    from course.sessions import SessionStore

    path = tmp_path / "staff.json"
    auth.add_staff(path, "prof", "instructor", PASSWORD)
    auth.link_staff(path, "prof", "https://lms.example", "u1")
    sessions = SessionStore(ProgressStore(f"sqlite:///{tmp_path / 'p.db'}").engine)
    account = auth.load_staff(path)["prof"]
    auth.staff_session(sessions, account, role="ta", lms_identity=("https://lms.example", "u1"))
    auth.staff_session(sessions, account)
    assert sorted(auth.session_role_label(r) for r in sessions.active(("staff",))) == [
        "instructor", "ta (from an LMS launch)"]


def test_the_lms_account_prefix_is_kept_for_trusted_launches(tmp_path):
    with pytest.raises(auth.AuthError, match="kept for staff an LMS registration vouches for"):
        auth.add_staff(tmp_path / "staff.json", auth.lms_account_name("https://lms.example", "u1"), "ta", PASSWORD)
    made = auth.add_lms_staff(tmp_path / "staff.json", "https://lms.example", "u1", "ta")
    again = auth.add_lms_staff(tmp_path / "staff.json", "https://lms.example", "u1", "instructor")
    accounts = auth.load_staff(tmp_path / "staff.json")
    assert made.name == again.name and accounts[made.name].role == "instructor"
    assert accounts[made.name].password_hash == made.password_hash      # one account, re-roled


def test_a_launch_names_its_person_by_name_else_given_and_family_else_email():
    from course.lti import launch_display_name

    assert launch_display_name({"name": "Ada Lovelace", "given_name": "A", "email": "a@x.example"}) == "Ada Lovelace"
    assert launch_display_name({"name": " \u202e ", "given_name": "Ada", "family_name": "Lovelace"}) == "Ada Lovelace"
    assert launch_display_name({"given_name": "Ada"}) == "Ada"
    assert launch_display_name({"name": 7, "email": "ada@uni.example"}) == "ada@uni.example"
    assert launch_display_name({}) == ""
    assert len(launch_display_name({"name": "x" * 500})) == auth.DISPLAY_NAME_LENGTH
