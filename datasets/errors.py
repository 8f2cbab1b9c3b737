"""The one exception type users see: every part of the project raises a subclass of it."""


class UserError(Exception):
    """A problem the user can act on (bad input, missing file, wrong option).

    The CLI prints its message as one line and exits non-zero; the app shows it as an error box.
    Anything else that escapes is a bug in the project, reported as such.
    """

    exit_code = 2
