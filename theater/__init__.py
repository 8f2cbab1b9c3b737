"""The `theater` command line, above every other package: it dispatches to datasets/, course/ and
grader/ commands alike, so it sits on top of them and nothing imports it (tests/test_layers.py)."""
