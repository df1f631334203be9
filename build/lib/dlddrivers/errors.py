"""Error types that name the file, the field and what was expected."""

from __future__ import annotations


class DLDError(Exception):
    """Base class for all errors raised by dlddrivers."""


class ConfigError(DLDError):
    """A configuration value is invalid. The message names the key and the bad value."""

    def __init__(self, key: str, value: object, expected: str, file: str | None = None):
        self.key, self.value, self.expected, self.file = key, value, expected, file
        where = f"{file}: " if file else ""
        super().__init__(f"{where}config key '{key}' has value {value!r}; expected {expected}")


class RawFileError(DLDError):
    """A raw provider file is missing, malformed, or holds an unexpected value."""

    def __init__(self, file: object, field: str | None, expected: str, found: object = None):
        self.file, self.field, self.expected, self.found = str(file), field, expected, found
        parts = [f"raw file '{file}'"]
        if field is not None:
            parts.append(f"field '{field}'")
        msg = ", ".join(parts) + f": expected {expected}"
        if found is not None:
            msg += f"; found {found!r}"
        super().__init__(msg)


class UnknownUnitError(RawFileError):
    """A unit name or code in a raw file (or config) is not in the unit registry."""


class InsufficientDataError(DLDError):
    """The data cannot support the requested computation (too few units, years, ...)."""
