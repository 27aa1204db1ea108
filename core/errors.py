"""The error tree.

UndercurrentError          anything the CLI reports as one clear line
├── UserError              a mistake in what the user asked for (bad path, bad date, bad SQL)
│   └── DatabaseBusy       another process holds the database file
├── PermanentError         bad input data: recorded with a reason, the run goes on
└── TransientError         worth retrying later (timeouts, 5xx, connection resets)
"""


class UndercurrentError(Exception):
    """Base class: the message is shown to the user as it is."""


class UserError(UndercurrentError):
    """The user asked for something that cannot be done as asked."""


class DatabaseBusy(UserError):
    """Another process holds the database (DuckDB lets one process write a file at a time)."""


class PermanentError(UndercurrentError):
    """Input that will not get better by retrying (unparseable feed, unsupported file)."""


class TransientError(UndercurrentError):
    """A failure that may go away on retry (timeout, 5xx, connection reset)."""
