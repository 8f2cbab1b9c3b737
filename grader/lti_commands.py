"""`theater lti keys | register | push | roster`: the course's LTI 1.3 set-up, grade pass-back and
roster sync (grader.lti)."""

from __future__ import annotations

import argparse
from pathlib import Path

from datasets.errors import UserError


class PushFailed(UserError):
    """Some scores did not reach the LMS (each one is listed above the summary)."""


def _course(args: argparse.Namespace):
    from grader.course_dir import find_course

    return find_course(course=args.course)


def _add_course_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", metavar="DIR", type=Path, default=None,
                        help="the course directory (default: found from the current directory)")


def _cmd_keys(args: argparse.Namespace) -> int:
    from grader import lti

    course = _course(args)
    path = lti.make_keys(course, replace=args.replace)
    print(f"tool key pair written: {path} (private, 0600) and {lti.public_key_path(course)}")
    print(f"the LMS reads the public key from {lti.tool_urls(course)['jwks']}")
    return 0


def _cmd_register(args: argparse.Namespace) -> int:
    from grader import lti

    course = _course(args)
    platform = lti.register_platform(course, args.issuer, args.client_id, args.deployment_id, args.auth_url,
                                     args.token_url, args.jwks_url, args.tool_url, args.trust_staff)
    urls = lti.tool_urls(course)
    print(f"registered {platform.issuer} (client {platform.client_id}, deployments "
          f"{', '.join(platform.deployment_ids)})")
    if platform.trust_staff:
        print(f"launches with a staff role in the LMS course sign in as staff up to {platform.trust_staff}, "
              "each under an account made for that LMS user (theater users list shows them)")
    print("paste these into the LMS's tool configuration:")
    print(f"  OIDC login (initiation) URL: {urls['login']}")
    print(f"  launch (redirect) URL:       {urls['launch']}")
    print(f"  public JWKS URL:             {urls['jwks']}")
    if not lti.private_key_path(course).exists():
        print("the tool has no keys yet: run `theater lti keys` before the first launch")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from grader import lti

    lines = lti.push_scores(_course(args), args.assignment, dry_run=args.dry_run, force=args.force,
                            context_id=args.context)
    for line in lines:
        if line.failed:
            print(f"{line.learner}: not posted: {line.detail}")
        elif args.verbose or line.outcome == "would post":
            score = "" if line.score is None else f" {line.score:g}"
            print(f"{line.learner}:{score} {line.outcome}")
    print(lti.push_summary(args.assignment, lines))
    failed = sum(line.failed for line in lines)
    if failed:
        raise PushFailed(f"{failed} score{'s' if failed != 1 else ''} did not reach the LMS (listed above)")
    return 0


def _cmd_roster(args: argparse.Namespace) -> int:
    from grader import lti
    from grader.assign import CODES_FILE, write_codes

    course = _course(args)
    result = lti.sync_roster(course, context_id=args.context, url=args.url, dry_run=args.dry_run,
                             match_email=args.match_email)
    for line in result.lines():
        print(line)
    print(result.summary())
    if result.codes:
        path = write_codes(args.codes or course.path(CODES_FILE), result.new_learners, result.codes)
        print(f"{len(result.codes)} new access code(s) for the app's sign-in written to {path} (only you can "
              "read it): hand each learner their code, then delete the file; codes are stored hashed")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `theater lti` to the CLI."""
    lti_parser = subparsers.add_parser("lti", help="LTI 1.3: the tool's keys, LMS registration, grade pass-back, "
                                                   "roster sync")
    sub = lti_parser.add_subparsers(dest="lti_command", metavar="ACTION", required=True)

    keys = sub.add_parser("keys", help="make the tool's RSA key pair (private key 0600 in .theater/)")
    keys.add_argument("--replace", action="store_true", help="replace existing keys (every LMS must re-read them)")
    _add_course_option(keys)
    keys.set_defaults(func=_cmd_keys)

    reg = sub.add_parser("register", help="store an LMS (platform) registration; prints the tool's URLs")
    reg.add_argument("--issuer", required=True, help="the platform's issuer (iss), e.g. https://canvas.instructure.com")
    reg.add_argument("--client-id", required=True, help="the client id the LMS gave the tool")
    reg.add_argument("--deployment-id", required=True, help="the deployment id (repeat the command to add more)")
    reg.add_argument("--auth-url", required=True, help="the platform's OIDC authorization URL")
    reg.add_argument("--token-url", required=True, help="the platform's OAuth2 token URL (for grade services)")
    reg.add_argument("--jwks-url", required=True, help="the platform's public key set (JWKS) URL")
    reg.add_argument("--tool-url", default=None,
                     help="the app's public address as the LMS reaches it, e.g. https://course.example.org "
                          "(default: the one stored before, else the app's own local address)")
    reg.add_argument("--trust-staff", choices=("none", "ta", "instructor"), default=None,
                     help="let this LMS's staff roles count on their own, up to this role: an Instructor "
                          "or TA launch then signs in as staff without `theater users link` (default: "
                          "what was stored; a new registration trusts none)")
    _add_course_option(reg)
    reg.set_defaults(func=_cmd_register)

    push = sub.add_parser("push", help="post each learner's score for an assignment to the LMS (AGS)")
    push.add_argument("assignment", metavar="ASSIGNMENT")
    push.add_argument("--dry-run", action="store_true", help="show what would be posted; post nothing")
    push.add_argument("--force", action="store_true", help="post scores the LMS already has again")
    push.add_argument("--context", default=None, metavar="ID",
                      help="the LMS course (context id) to post to, when several launched the app")
    push.add_argument("--verbose", action="store_true", help="one line per learner, not only failures")
    _add_course_option(push)
    push.set_defaults(func=_cmd_push)

    roster = sub.add_parser("roster", help="merge the LMS course's learners into the roster (Names and Role "
                                           "Provisioning); nobody is removed")
    roster.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    roster.add_argument("--context", default=None, metavar="ID",
                        help="the LMS course (context id) to read, when several launched the app")
    roster.add_argument("--url", default=None,
                        help="the LMS's context memberships URL (default: the one the launches carried)")
    roster.add_argument("--match-email", action="store_true",
                        help="also match an LMS learner to a roster learner without an LMS id by e-mail (only if "
                             "your LMS does not let users change their own e-mail)")
    roster.add_argument("--codes", type=Path, default=None, metavar="CSV",
                        help="where new learners' access codes go (default: the course's access-codes.csv)")
    _add_course_option(roster)
    roster.set_defaults(func=_cmd_roster)
