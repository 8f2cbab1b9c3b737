"""The learner's private company: generated from the course secret and their id, cached under var/."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from course.config import AppConfig
from datasets.errors import UserError

LEARNER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
DEFAULT_LEARNER = "default"
PUBLIC_TABLES = ("employees", "ai_events", "work_items", "calendar", "survey")


class SignInError(UserError):
    """The learner id or course code cannot be accepted."""


class DataUnavailable(UserError):
    """The company generator is not installed or failed."""


def validate_learner_id(raw: str | None, config: AppConfig, course_code: str | None = None) -> str:
    """Return the cleaned id, or say exactly what is wrong with it."""
    learner_id = (raw or "").strip()
    if not learner_id:
        raise SignInError("Enter your learner id (the one your instructor gave you).")
    if not LEARNER_ID_PATTERN.match(learner_id):
        raise SignInError(
            f"'{learner_id[:70]}' is not a valid learner id: use 2–64 letters, digits, '.', '_', "
            "'-' or '@', starting with a letter or digit.")
    if config.course_code and (course_code or "").strip() != config.course_code:
        raise SignInError("That course code is not right for this course. Check the code your "
                          "instructor or trainer gave you.")
    if config.learners is not None and learner_id not in config.learners:
        raise SignInError(f"'{learner_id}' is not on this course's list of learners. Check the "
                          "spelling, or ask your instructor to add you.")
    return learner_id


def sign_in_token(config: AppConfig, learner_id: str) -> str:
    """A reload-proof sign-in for the url: the id plus an HMAC only this course's secret makes."""
    digest = hmac.new(config.course_secret.encode(), f"sign-in:{learner_id}".encode(),
                      hashlib.sha256).hexdigest()[:20]
    return f"{learner_id}.{digest}"


def learner_from_token(config: AppConfig, token: str | None) -> str | None:
    """The learner id a token was made for, or None when it is not one of ours."""
    if not token or "." not in token:
        return None
    learner_id = token.rsplit(".", 1)[0]
    if not LEARNER_ID_PATTERN.match(learner_id):
        return None
    if config.learners is not None and learner_id not in config.learners:
        return None
    return learner_id if hmac.compare_digest(sign_in_token(config, learner_id), token) else None


def _api():
    try:
        from datasets import api
    except ImportError as exc:
        raise DataUnavailable("The company generator (datasets.api) is not available in this "
                              f"installation: {exc}. Run `make install`.") from exc
    return api


def learner_dir(config: AppConfig, learner_id: str) -> Path:
    return config.data_dir / learner_id


def _generate_and_store(config: AppConfig, owner: str, out: Path, failure: str) -> Any:
    """Generate `owner`'s company (labels stay in memory) and write its label-free files once."""
    api = _api()
    seed = api.learner_seed(secret=config.course_secret, learner_id=owner)
    try:
        company = api.generate_company(profile=config.profile, employees=config.employees,
                                       days=config.days, seed=seed)
    except UserError:
        raise
    except Exception as exc:  # the generator's bug must not look like the learner's fault
        raise DataUnavailable(f"{failure} ({exc.__class__.__name__}: {exc}).") from exc
    if not (out / "manifest.json").exists():
        if out.exists():
            shutil.rmtree(out)  # an interrupted earlier write; the data is regenerated identically
        out.parent.mkdir(parents=True, exist_ok=True)
        api.write_company(company, out, fmt="parquet", with_labels=False)
    return company


def ensure_default_dataset(config: AppConfig) -> Path:
    """The course's default company (label-free files), generated on the app's first start."""
    out = config.home / "data" / DEFAULT_LEARNER
    if not (out / "manifest.json").exists():
        _generate_and_store(config, DEFAULT_LEARNER, out, "Generating the default company failed")
    return out


def generate_learner_company(config: AppConfig, learner_id: str) -> Any:
    """Generate the learner's company (labels stay in memory) and write the label-free files once."""
    return _generate_and_store(config, learner_id, learner_dir(config, learner_id),
                               "Generating your company failed; tell your instructor")


def company_zip(config: AppConfig, learner_id: str, company: Any, fmt: str) -> bytes:
    """The learner's tables as a zip of CSV or Parquet files, never with labels."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be csv or parquet, got {fmt!r}")
    api = _api()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"company-{learner_id}"
        api.write_company(company, out, fmt=fmt, with_labels=False)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    if path.stem in ("labels", "event_labels"):
                        continue
                    archive.write(path, path.relative_to(out.parent))
        return buffer.getvalue()


def company_size(company: Any) -> dict[str, int]:
    """Row counts of the public tables, for the sign-in confirmation."""
    return {name: int(len(getattr(company, name))) for name in PUBLIC_TABLES
            if getattr(company, name, None) is not None}


def exercise_truth(check_id: str, company: Any, answer: Any = None,
                   simulator_params: Any = None) -> Any:
    """The hidden truth for a check, computed in server memory from the labelled company.

    `simulator_params` are the learner's own sandbox settings (course.simulator.learner_params).
    """
    from exercises import truth

    if check_id == "goodhart.collapse_point":
        from course.simulator import DEFAULT_PARAMS, goodhart_collapse_point

        return goodhart_collapse_point(simulator_params or DEFAULT_PARAMS)
    if check_id == "spot.label_sessions":
        ids = list(answer) if isinstance(answer, dict) else []
        return truth.session_theater_labels(company, ids)
    builders = {
        "explore.weekly_usage_output": truth.weekly_usage_output,
        "detect.flag_tokenmaxxers": truth.tokenmaxxer_ids,
        "detect.flag_converts": truth.convert_ids,
        "measure.theater_share": truth.theater_share,
        "measure.productivity_effect": truth.productivity_effect,
    }
    if check_id == "metrics.dashboard_design":
        return None
    if check_id not in builders:
        raise DataUnavailable(f"no truth is defined for the check '{check_id}'")
    return builders[check_id](company)


def learner_notebook(path: Path) -> bytes:
    """An nbgrader source notebook exactly as `nbgrader generate_assignment` releases it.

    nbgrader's own preprocessors, in its own order (without the gradebook step), so a notebook
    downloaded here carries the same stubs, locks and checksums as the instructor's release and
    grades the same way when it is submitted.
    """
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                        ClearOutput, ClearSolutions, ComputeChecksums, LockCells)

    from exercises.assignments import CODE_STUB

    notebook = nbformat.read(str(path), as_version=4)
    resources: dict = {}
    for step in (LockCells(), ClearSolutions(code_stub={"python": CODE_STUB}), ClearOutput(), CheckCellMetadata(),
                 ComputeChecksums(), ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
                 CheckCellMetadata()):
        notebook, resources = step.preprocess(notebook, resources)
    return nbformat.writes(notebook).encode("utf-8")
