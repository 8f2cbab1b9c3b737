"""GitHub Copilot usage-metrics reports (REST API version 2026-03-10, NDJSON behind download links):
the users report (users-1-day, users-28-day), the team-membership report (user-teams-1-day) and the
repository report (repos-1-day).

A download is often several NDJSON files (one per link); give the folder or every file and the
records are deduplicated by their natural key. GitHub changed what some counts mean on given days;
`COPILOT_CHANGES` lists them, and the table's metadata says which fall inside the period read.
"""

from __future__ import annotations

import json
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from datasets.importers import fastcsv, fastjson
from datasets.importers.base import (
    ACCEPTANCE, ACTIVITY, CONSUMPTION, OUTCOME_PROXIMAL, Dates, DefinitionChange, ExportFormatError, Head,
    Reader, Sink, amount_of, count_of, identity, json_records, ndjson_head, read_head, require, shown,
    text_of,
)

COPILOT_SHAPE = "GitHub Copilot usage-metrics user record"
COPILOT_DATES = Dates(("%Y-%m-%d",), "the form YYYY-MM-DD")
COPILOT_REQUIRED = ("day", "user_login", "user_initiated_interaction_count", "code_acceptance_activity_count")
CLI_IN_TOTALS = date(2026, 4, 10)
# Dated changes in what GitHub counts (research notes, section 2, from GitHub's changelog).
COPILOT_CHANGES = (
    DefinitionChange(CLI_IN_TOTALS, "top-level counts include Copilot CLI use (feature copilot_cli); before, "
                     "CLI prompts were only in totals_by_cli", ("interactions",)),
    DefinitionChange(date(2026, 6, 15), "users active only server-side appear, with empty breakdowns",
                     ("interactions",)),
    DefinitionChange(date(2026, 6, 19), "ai_credits_used appears (a metrics signal, not a billed total)",
                     ("ai_credits_used",)),
    DefinitionChange(date(2026, 7, 2), "ai_credits_used back-filled for earlier days", ("ai_credits_used",)),
    DefinitionChange(date(2026, 7, 28), "daily active users include Copilot-app-only users", ("interactions",)),
)
ADOPTION_PHASES = range(0, 4)   # ai_adoption_phase.phase, version "v1": 0 none .. 3; adopted = 2 of 28 days


def _copilot_extra(path: Path, where: str, record: dict) -> dict[str, float]:
    """The 2026 per-user fields: credits (consumption), adoption phase and code-review use."""
    extra: dict[str, float] = {}
    if record.get("ai_credits_used") is not None:
        extra["ai_credits_used"] = amount_of(path, where, record["ai_credits_used"], "ai_credits_used")
    phase = record.get("ai_adoption_phase")
    if phase is not None:
        value = phase.get("phase") if isinstance(phase, dict) else phase
        if isinstance(value, bool) or not isinstance(value, int) or value not in ADOPTION_PHASES:
            raise ExportFormatError(f"{path}: {where}: field 'ai_adoption_phase.phase' is not a phase 0 to 3 "
                                    f"({shown(phase)})")
        extra["ai_adoption_phase"] = float(value)
    for field in ("used_copilot_code_review_active", "used_copilot_code_review_passive"):
        value = record.get(field)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise ExportFormatError(f"{path}: {where}: field {field!r} is not true or false ({shown(value)})")
        extra[field] = float(value)
    return extra


def _users_schema(phase_is_object: bool) -> pa.Schema:
    """The users report's fields the reader uses, as the fast path parses them (the rest is dropped)."""
    count = pa.int64()
    phase = pa.struct([("phase", count)]) if phase_is_object else count
    return pa.schema([
        ("day", pa.string()), ("user_login", pa.string()),
        ("user_initiated_interaction_count", count), ("code_generation_activity_count", count),
        ("code_acceptance_activity_count", count), ("loc_added_sum", count),
        ("totals_by_feature", pa.list_(pa.struct([("feature", pa.string()),
                                                   ("code_generation_activity_count", count)]))),
        ("totals_by_cli", pa.struct([("prompt_count", count), ("token_usage", pa.struct(
            [("prompt_tokens_sum", count), ("output_tokens_sum", count)]))])),
        ("ai_credits_used", pa.float64()), ("ai_adoption_phase", phase),
        ("used_copilot_code_review_active", pa.bool_()), ("used_copilot_code_review_passive", pa.bool_()),
    ])


def _phase_is_object(head: str) -> bool:
    """Whether the file writes ai_adoption_phase as {"phase": n, ...} (as documented) or as a bare
    number: the fast path parses the form the first record uses (the other form then fails it)."""
    try:
        first = json.loads(head.lstrip().split("\n", 1)[0])
    except ValueError:
        return True
    return not isinstance(first, dict) or not isinstance(first.get("ai_adoption_phase"), int)


def _copilot_extra_columns(batch: pa.RecordBatch, phase_is_object: bool) -> dict[str, np.ndarray]:
    """`_copilot_extra` for a whole batch: each column that any record in it has (NaN where absent)."""
    extra = {"ai_credits_used": fastjson.amounts(batch.column("ai_credits_used"))}
    phase = batch.column("ai_adoption_phase")
    if phase_is_object:
        present = phase.is_valid().to_numpy(zero_copy_only=False)
        phase = fastjson.field(phase, "phase")
        if np.any(present & ~phase.is_valid().to_numpy(zero_copy_only=False)):   # {} without a phase
            raise fastcsv.NotFast
    phases = fastjson.counts(phase, optional=True)
    if np.any(phases[~np.isnan(phases)] > ADOPTION_PHASES[-1]):
        raise fastcsv.NotFast
    extra["ai_adoption_phase"] = phases
    for name in ("used_copilot_code_review_active", "used_copilot_code_review_passive"):
        flags = batch.column(name)
        extra[name] = np.where(flags.is_valid().to_numpy(zero_copy_only=False),
                               flags.fill_null(False).to_numpy(zero_copy_only=False), np.nan).astype(np.float64)
    return {name: values for name, values in extra.items() if not np.isnan(values).all()}


def _record_list(loaded: Any) -> list | None:
    """A JSON document's records: the document itself when it is a list."""
    return loaded if isinstance(loaded, list) else None


class CopilotUsersReader(Reader):
    """users-1-day / users-28-day: one record per user and day."""

    kind = "github-copilot"
    shape = COPILOT_SHAPE
    roles = {"interactions": ACTIVITY, "acceptances": ACCEPTANCE, "tokens_in": CONSUMPTION,
             "tokens_out": CONSUMPTION, "lines_added": ACCEPTANCE, "ai_credits_used": CONSUMPTION,
             "ai_adoption_phase": ACTIVITY, "used_copilot_code_review_active": ACTIVITY,
             "used_copilot_code_review_passive": ACTIVITY}
    extra = {"ai_credits_used": "sum", "ai_adoption_phase": "max", "used_copilot_code_review_active": "max",
             "used_copilot_code_review_passive": "max"}
    definition_changes = COPILOT_CHANGES
    notes = ("code_acceptance_activity_count counts the Copy button and agent 'apply', not only accepted "
             "suggestions.",
             "ai_adoption_phase calls a user adopted after touching a surface on 2 of 28 days; GitHub's "
             "'adoption multiplier' compares two different populations.")

    def detect(self, head: Head) -> bool:
        first = head.first
        return first is not None and ("user_login" in first or "user_initiated_interaction_count" in first)

    def records(self, path: Path, sink: Sink) -> None:
        """Prompts, completions shown and (before CLI_IN_TOTALS) CLI prompts count as interactions.
        An NDJSON file is read a chunk at a time by whole columns; whatever that path cannot judge
        exactly sends the file to `_records`, record by record."""
        head = read_head(path)
        if ndjson_head(head):
            mark = sink.mark()
            try:
                self._columns(path, sink, _phase_is_object(head))
                return
            except fastcsv.NotFast:
                sink.rollback(mark)
        self._records(path, sink)

    def _columns(self, path: Path, sink: Sink, phase_is_object: bool) -> None:
        """The fast path (datasets/importers/fastjson.py): the same numbers as `_records`."""
        parse_day = partial(COPILOT_DATES.parse, path, "", field="day")
        seen = fastcsv.Known()
        cli_from = CLI_IN_TOTALS.toordinal()
        for batch in fastjson.batches(path, _users_schema(phase_is_object)):
            rows = batch.num_rows
            for name in ("day", "user_login"):
                if batch.column(name).null_count:
                    raise fastcsv.NotFast
            users = fastcsv.codes(sink, "user", batch.column("user_login"), fastcsv.checked(identity), seen)
            days = fastcsv.day_ordinals(batch.column("day"), parse_day)
            features = batch.column("totals_by_feature")
            has_features = pc.fill_null(pc.greater(pc.list_value_length(features), 0),
                                        False).to_numpy(zero_copy_only=False)
            day_level = fastjson.counts(batch.column("code_generation_activity_count"), optional=True)
            if np.isnan(day_level[~has_features]).any():   # absent is 0 there, null an error: the line reader
                raise fastcsv.NotFast
            by_feature = fastjson.summed_where(features, "code_generation_activity_count", "feature",
                                               "code_completion", rows)
            completions = np.where(has_features, by_feature, day_level)
            cli = batch.column("totals_by_cli")
            cli_prompts = fastjson.counts(fastjson.field(cli, "prompt_count"), optional=True)
            separate_cli = np.where(np.isnan(cli_prompts) | (days >= cli_from), 0.0, cli_prompts)
            tokens = fastjson.field(cli, "token_usage")
            interactions = (fastjson.counts(batch.column("user_initiated_interaction_count"))
                            + completions + separate_cli)
            columns = [interactions, fastjson.counts(batch.column("code_acceptance_activity_count")),
                       fastjson.counts(fastjson.field(tokens, "prompt_tokens_sum"), optional=True),
                       fastjson.counts(fastjson.field(tokens, "output_tokens_sum"), optional=True),
                       fastjson.counts(batch.column("loc_added_sum"), optional=True)]
            sink.add_block(users, days, self.kind, [None if np.isnan(c).all() else c for c in columns],
                           _copilot_extra_columns(batch, phase_is_object))

    def _records(self, path: Path, sink: Sink) -> None:
        """Record by record: slower, and the reader that names the file and line of a bad field."""
        def pick(loaded: Any) -> list | None:
            return loaded if isinstance(loaded, list) else None

        for where, record in json_records(path, pick, COPILOT_SHAPE):
            require(path, where, record, COPILOT_REQUIRED, COPILOT_SHAPE)
            user = text_of(path, where, record["user_login"], "user_login")
            day = COPILOT_DATES.parse(path, where, record["day"], "day")
            features = record.get("totals_by_feature")
            if features is not None and not isinstance(features, list):
                raise ExportFormatError(f"{path}: {where}: field 'totals_by_feature' is not a list")
            if features:
                completions = sum(
                    count_of(path, where, feature.get("code_generation_activity_count", 0),
                           "totals_by_feature.code_generation_activity_count")
                    for feature in features
                    if isinstance(feature, dict) and feature.get("feature") == "code_completion")
            else:  # no per-feature breakdown: the day-level count is all there is
                completions = count_of(path, where, record.get("code_generation_activity_count", 0),
                                     "code_generation_activity_count")
            cli = record.get("totals_by_cli") or {}
            if not isinstance(cli, dict):
                raise ExportFormatError(f"{path}: {where}: field 'totals_by_cli' is not an object")
            tokens = cli.get("token_usage") or {}
            if not isinstance(tokens, dict):
                raise ExportFormatError(f"{path}: {where}: field 'totals_by_cli.token_usage' is not an object")
            cli_prompts = count_of(path, where, cli.get("prompt_count", 0), "totals_by_cli.prompt_count", optional=True)
            # from CLI_IN_TOTALS GitHub counts CLI prompts in the top-level count already
            separate_cli = 0.0 if np.isnan(cli_prompts) or day >= CLI_IN_TOTALS else cli_prompts
            interactions = (count_of(path, where, record["user_initiated_interaction_count"],
                                     "user_initiated_interaction_count")
                            + completions + separate_cli)
            sink.add(user, day, self.kind, (
                interactions,
                count_of(path, where, record["code_acceptance_activity_count"], "code_acceptance_activity_count"),
                # only the CLI reports tokens; IDE usage has none, so no CLI means unknown
                count_of(path, where, tokens.get("prompt_tokens_sum"), "prompt_tokens_sum", optional=True),
                count_of(path, where, tokens.get("output_tokens_sum"), "output_tokens_sum", optional=True),
                count_of(path, where, record.get("loc_added_sum"), "loc_added_sum", optional=True),
            ), _copilot_extra(path, where, record))


TEAMS_SHAPE = "GitHub Copilot user-teams report"
TEAM_COLUMNS = ["user", "day", "team", "source"]


class CopilotTeamsReader(Reader):
    """user-teams-1-day: which team each user was in on a day (join to the users report on user and day)."""

    kind = "github-copilot-teams"
    shape = TEAMS_SHAPE
    table = "teams"
    notes = ("GitHub omits teams with fewer than 5 seated users: their members are missing here, "
             "which is not the same as not using Copilot.",
             "A user in several teams counts in each; never join 28-day user rows to one day's membership.")

    def detect(self, head: Head) -> bool:
        first = head.first
        return (first is not None and ("team_id" in first or "slug" in first)
                and ("user_login" in first or "user_id" in first) and "user_initiated_interaction_count" not in first)

    def records(self, path: Path, sink: Sink) -> None:
        for where, record in json_records(path, _record_list, TEAMS_SHAPE):
            require(path, where, record, ("day", "user_login"), TEAMS_SHAPE)
            if record.get("slug") is None and record.get("team_id") is None:
                raise ExportFormatError(f"{path}: {where}: neither 'slug' nor 'team_id' (not a {TEAMS_SHAPE})")
            user = text_of(path, where, record["user_login"], "user_login")
            day = COPILOT_DATES.parse(path, where, record["day"], "day")
            team = text_of(path, where, record.get("slug") or record.get("team_id"), "slug")
            sink.add_row((self.kind, user, day, team), (user, day, team, self.kind))

    def build(self, sink: Sink) -> pd.DataFrame:
        frame = pd.DataFrame(sink.plain_rows(), columns=TEAM_COLUMNS)
        frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
        for column in ("user", "team", "source"):
            frame[column] = frame[column].astype("string")
        return frame.sort_values(["team", "day", "user"], ignore_index=True)


REPOS_SHAPE = "GitHub Copilot repository report"
REPOSITORY_FIELDS = ("repository", "repository_name", "repo_name", "full_name", "repository_id")


def _flat_counts(path: Path, where: str, record: dict, prefix: str = "") -> dict[str, float]:
    """Every count of a record, nested objects flattened to dotted names (pull_requests.total_merged)."""
    counts: dict[str, float] = {}
    for name, value in record.items():
        field = f"{prefix}{name}"
        if isinstance(value, dict):
            counts.update(_flat_counts(path, where, value, f"{field}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not name.endswith("_id"):
            counts[field] = amount_of(path, where, value, field)
        elif prefix and value is not None and not isinstance(value, list):
            # inside a group of counts (pull_requests, code_review) a text or true/false is a wrong file
            raise ExportFormatError(f"{path}: {where}: field {field!r} is not a number ({shown(value)})")
    return counts


class CopilotRepositoriesReader(Reader):
    """repos-1-day: per repository and day, Copilot-authored pull requests and code-review counts."""

    kind = "github-copilot-repos"
    shape = REPOS_SHAPE
    table = "repositories"
    notes = ("Only repositories with Copilot activity appear: a missing repository is not a zero.",
             "Pull requests created or merged with Copilot are outcome-proximal, not outcomes: merged is "
             "not kept, and a repository's work done without Copilot is not in this report.")

    def detect(self, head: Head) -> bool:
        first = head.first
        return (first is not None and "day" in first and any(field in first for field in REPOSITORY_FIELDS)
                and "user_login" not in first)

    def records(self, path: Path, sink: Sink) -> None:
        for where, record in json_records(path, _record_list, REPOS_SHAPE):
            require(path, where, record, ("day",), REPOS_SHAPE)
            field = next((f for f in REPOSITORY_FIELDS if record.get(f) is not None), None)
            if field is None:
                raise ExportFormatError(f"{path}: {where}: no repository name ({', '.join(REPOSITORY_FIELDS)})")
            repository = text_of(path, where, record[field], field)
            day = COPILOT_DATES.parse(path, where, record["day"], "day")
            counts = _flat_counts(path, where, {k: v for k, v in record.items() if k not in REPOSITORY_FIELDS})
            sink.add_row((self.kind, repository, day), {"repository": repository, "day": day, "source": self.kind,
                                                         **counts})

    def build(self, sink: Sink) -> pd.DataFrame:
        frame = pd.DataFrame(sink.plain_rows())
        frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
        for column in ("repository", "source"):
            frame[column] = frame[column].astype("string")
        counts = sorted(c for c in frame.columns if c not in ("repository", "day", "source"))
        return frame[["repository", "day", "source", *counts]].sort_values(["repository", "day"], ignore_index=True)

    def column_roles(self, table: pd.DataFrame) -> dict[str, str]:
        """Pull requests are outcome-proximal; code-review comments and suggestions are activity."""
        return {column: OUTCOME_PROXIMAL if column.startswith("pull_requests") else ACTIVITY
                for column in table.columns if column not in ("repository", "day", "source")}
