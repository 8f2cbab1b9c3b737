"""The grader: course directory, assign, collect, sandboxed grading, feedback and export."""

import sys

# jsonschema (nbformat's validator) builds an IRI grammar with lark at import when the optional
# rfc3987_syntax package is installed: 2-3 s in every fresh grading worker, for a format check
# notebooks never use (the app skips it the same way in course/app.py). Set here, before any
# grader module imports nbformat, because a Dask worker imports the task's own module first.
sys.modules.setdefault("rfc3987_syntax", None)
