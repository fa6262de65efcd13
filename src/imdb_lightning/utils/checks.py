"""What a setting must be, said once: the constructors that take a setting check it with these rules, and the
config check runs those constructors before any data loads
(:func:`imdb_lightning.config.validate.validate`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from omegaconf import OmegaConf

from imdb_lightning.utils.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """A test of a value and how the error names what the value must be."""

    test: Callable[[object], bool]
    expected: str

    def or_null(self) -> Rule:
        return Rule(lambda v: v is None or self.test(v), f"{self.expected} (or null)")


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # a YAML true is no batch size


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


INTEGER = Rule(_integer, "an integer")
SEED = Rule(
    lambda v: _integer(v) and 0 <= v < 2**32, "an integer in [0, 2**32)"
)  # numpy's and Lightning's range
POSITIVE_INTEGER = Rule(lambda v: _integer(v) and v > 0, "a positive integer")
NON_NEGATIVE_INTEGER = Rule(lambda v: _integer(v) and v >= 0, "an integer >= 0")
BOOLEAN = Rule(lambda v: isinstance(v, bool), "true or false")
POSITIVE_NUMBER = Rule(lambda v: _number(v) and v > 0, "a positive number")
NON_NEGATIVE_NUMBER = Rule(lambda v: _number(v) and v >= 0, "a number >= 0")
FRACTION = Rule(lambda v: _number(v) and 0 <= v < 1, "in [0, 1)")
FRACTION_PAIR = Rule(
    lambda v: (
        (isinstance(v, (list, tuple)) or OmegaConf.is_list(v))
        and len(v) == 2
        and all(_number(b) and 0 <= b < 1 for b in v)
    ),
    "two numbers in [0, 1)",
)
POSITIVE_INTEGERS = Rule(
    lambda v: (
        (isinstance(v, (list, tuple)) or OmegaConf.is_list(v))
        and len(v) > 0
        and all(_integer(s) and s > 0 for s in v)
    ),
    "a non-empty list of positive integers",
)


def at_least(minimum: int) -> Rule:
    return Rule(lambda v: _integer(v) and v >= minimum, f"an integer >= {minimum}")


def one_of(options: Iterable[str]) -> Rule:
    options = tuple(options)
    return Rule(lambda v: v in options, f"one of {', '.join(options)}")


def require(key: str, value: object, rule: Rule) -> None:
    """Raise :class:`ConfigError` naming ``key``, what it must be and what it is, unless ``rule`` holds."""
    if not rule.test(value):
        shown = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        raise ConfigError(f"{key} must be {rule.expected}, got {shown!r}")
