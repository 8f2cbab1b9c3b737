"""Read real AI-usage exports into one tidy per-user-per-day table, so the course's analyses run
on an organisation's own data.

One reader per vendor report, each a `Reader` (base.py) in its own module, listed in registry.py:
GitHub Copilot usage-metrics reports (users, teams, repositories; NDJSON), OpenAI organization usage
(JSON pages), Microsoft 365 Copilot user detail (CSV), Amazon Q Developer and Kiro (CSV), Claude
Code analytics and Cursor daily usage (JSON). See docs/exports.md.

The tidy table has the columns of `TIDY_COLUMNS` (then any vendor columns a reader keeps, such as
GitHub's `ai_credits_used`): `user` is the vendor's own identity, `day` a date, `source` the report
kind, and the counts are NaN wherever the source does not report such a count. Its dtypes keep a
200 MB export's millions of user-days small: `user` and `source` are categorical (their categories
the names in sorted order, so sorting and comparing work as on text; group with `observed=True`),
`day` is datetime64[ns], and each count column is float32 when every value in it is exact in
float32, float64 otherwise (never rounded; sum float32 columns as float64). Files are streamed;
a record seen again by its natural key is counted once (`attrs["duplicates"]`); `attrs` also says
what each column measures (`roles`), what the reports leave out (`notes`) and which vendor
definition changes fall inside the period (`definition_changes`).
"""

from datasets.importers.base import (
    COUNT_COLUMNS,
    TIDY_COLUMNS,
    TIDY_DTYPES,
    ExportFormatError,
    Reader,
    UnknownExportError,
    export_suffix,
    identity,
)
from datasets.importers.registry import IMPORTERS, READERS, USAGE_KINDS, detect_kind, read_export, read_exports

__all__ = [
    "COUNT_COLUMNS",
    "IMPORTERS",
    "READERS",
    "TIDY_COLUMNS",
    "TIDY_DTYPES",
    "USAGE_KINDS",
    "ExportFormatError",
    "Reader",
    "UnknownExportError",
    "detect_kind",
    "export_suffix",
    "identity",
    "read_export",
    "read_exports",
]
