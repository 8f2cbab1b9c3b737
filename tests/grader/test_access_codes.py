"""Access codes live beside the course (grader.access_codes): a course's existing codes keep working."""

from __future__ import annotations

import json
import stat

import pytest

import course.auth
from course.auth import ThrottleBook, check_learner_code
from grader import access_codes
from grader.access_codes import AuthError, issue_access_codes, load_access_codes, verify_access_code

# .theater/access_codes.json exactly as course.auth.issue_access_codes wrote it before the codes moved
# here: the learners' codes were ada V6WF-TMX2-XN3G and bob M3JB-V65S-TX5C.
EARLIER_FILE = (
    '{\n "learners": {\n'
    '  "ada": "$argon2id$v=19$m=8192,t=1,p=1$AlvuyGOVK31MiVZlJ9wrSw$LvKCUS5pBZVstE6Hwx0cEOIltNIV4Yzfp74bajE7L80",\n'
    '  "bob": "$argon2id$v=19$m=8192,t=1,p=1$JIu/NbK9PdBHmzt3T+Cswg$4wqWZNyDpbK3Ve5sEszEWegWtbhLeyNSrB205JHYFTA"\n'
    ' }\n}\n'
)
EARLIER_CODES = {"ada": "V6WF-TMX2-XN3G", "bob": "M3JB-V65S-TX5C"}


@pytest.fixture
def earlier(tmp_path):
    path = tmp_path / ".theater" / "access_codes.json"
    path.parent.mkdir()
    path.write_text(EARLIER_FILE)
    path.chmod(0o600)
    return path


def test_codes_issued_before_the_move_still_sign_learners_in(earlier):
    codes = load_access_codes(earlier)
    assert verify_access_code(codes, "ada", EARLIER_CODES["ada"])
    assert verify_access_code(codes, "bob", "m3jb v65s tx5c"), "typed in lower case with spaces"
    assert not verify_access_code(codes, "ada", EARLIER_CODES["bob"]), "one learner's code is not another's"
    assert not verify_access_code(codes, "cy", EARLIER_CODES["ada"])
    outcome = check_learner_code("ada", EARLIER_CODES["ada"], codes, "10.0.0.1", throttles=ThrottleBook())
    assert outcome.ok


def test_issuing_for_a_new_learner_keeps_earlier_codes_and_the_file_format(earlier):
    issued = issue_access_codes(earlier, ["ada", "bob", "cy"])
    assert set(issued) == {"cy"}
    stored = json.loads(earlier.read_text())["learners"]
    earlier_hashes = json.loads(EARLIER_FILE)["learners"]
    assert {k: stored[k] for k in ("ada", "bob")} == earlier_hashes, "earlier hashes are kept byte for byte"
    assert stored["cy"].startswith("$argon2id$v=19$m=8192,t=1,p=1$"), "new codes use the same argon2 parameters"
    assert earlier.read_text() == json.dumps({"learners": stored}, indent=1, sort_keys=True) + "\n"
    assert stat.S_IMODE(earlier.stat().st_mode) == 0o600
    codes = load_access_codes(earlier)
    assert verify_access_code(codes, "cy", issued["cy"]) and verify_access_code(codes, "ada", EARLIER_CODES["ada"])
    assert issued["cy"] not in earlier.read_text()


def test_the_app_and_the_grader_share_one_implementation_and_one_error():
    for name in ("issue_access_codes", "load_access_codes", "verify_access_code", "code_version",
                 "normalise_code", "CODE_HASHER", "AuthError"):
        assert getattr(course.auth, name) is getattr(access_codes, name), name
    assert issubclass(course.auth.OidcRefused, AuthError)


def test_a_damaged_codes_file_is_a_clear_error(earlier):
    earlier.write_text("{not json")
    with pytest.raises(AuthError, match="cannot be read .*restore it from a backup"):
        load_access_codes(earlier)
    with pytest.raises(AuthError, match="cannot re-issue a code for zed: not on the roster"):
        issue_access_codes(earlier, ["ada"], reissue=["zed"])
