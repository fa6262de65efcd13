"""The two kinds of error a user can fix, each reported as one clear line instead of a traceback."""


class ConfigError(ValueError):
    """A config value is out of range or unknown; the message names the key and what is allowed."""


class DataError(RuntimeError):
    """The data is missing, corrupt or unusable; the message says what to do."""
