"""Errors the command line reports as one clear line."""


class CliError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""
