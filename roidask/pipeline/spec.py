"""Parameter specifications that validate config values with step-and-key messages.

Each spec checks one value and raises :class:`ConfigError` whose message
reads ``steps[2].fwhm: expected a number >= 0, got 'six'``.

An operation's parameters use :class:`Checked`, which runs the function's
own argument check, so a config refuses exactly what the function refuses,
with the function's words; the other specs serve the config's own keys.

Examples
--------
>>> Number(minimum=0).check(6, "steps[0].fwhm")
6
>>> Number(minimum=0).check("six", "steps[0].fwhm")
Traceback (most recent call last):
...
roidask.pipeline.spec.ConfigError: steps[0].fwhm: expected a number >= 0, got 'six'
>>> from roidask._utils.checks import check_fwhm
>>> Checked(check_fwhm).check([4, None, 6], "steps[0].fwhm")
[4, None, 6]
>>> Checked(check_fwhm).check(-1, "steps[0].fwhm")
Traceback (most recent call last):
...
roidask.pipeline.spec.ConfigError: steps[0].fwhm: expected a number >= 0 (mm), a sequence \
of 3, None or 'fast', got -1
"""

import numbers

from roidask.errors import ParameterError

REFERENCE_PREFIX = "$"


class ConfigError(ParameterError):
    """A config value is wrong; the message names the step and the key."""


def is_reference(value):
    """Whether a config value names an input or an earlier step (``$name``)."""
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIX)


class Spec:
    """Base spec: accepts anything."""

    expected = "a value"

    def check(self, value, where):
        return value

    def fail(self, value, where):
        raise ConfigError(where, self.expected, value)


class Number(Spec):
    """A real number, optionally an integer and bounded."""

    def __init__(self, minimum=None, maximum=None, integer=False):
        self.minimum, self.maximum, self.integer = minimum, maximum, integer
        kind = "an integer" if integer else "a number"
        bounds = []
        if minimum is not None:
            bounds.append(f">= {minimum}")
        if maximum is not None:
            bounds.append(f"<= {maximum}")
        self.expected = " ".join([kind] + bounds)

    def check(self, value, where):
        valid_type = isinstance(value, numbers.Integral if self.integer else numbers.Real)
        if isinstance(value, bool) or not valid_type:
            self.fail(value, where)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            self.fail(value, where)
        return value


class Choice(Spec):
    """One of a fixed set of values."""

    def __init__(self, *choices):
        self.choices = choices
        self.expected = "one of " + ", ".join(repr(c) for c in choices)

    def check(self, value, where):
        if value not in self.choices:
            self.fail(value, where)
        return value


class Text(Spec):
    """A string."""

    expected = "a string"

    def check(self, value, where):
        if not isinstance(value, str):
            self.fail(value, where)
        return value


class Flag(Spec):
    """true or false."""

    expected = "true or false"

    def check(self, value, where):
        if not isinstance(value, bool):
            self.fail(value, where)
        return value


class Threshold(Spec):
    """A number, or a percentile string such as ``"97%"``."""

    expected = "a number or a percentile like '97%'"

    def check(self, value, where):
        if isinstance(value, str) and value.endswith("%"):
            try:
                percent = float(value[:-1])
            except ValueError:
                self.fail(value, where)
            if not 0 <= percent <= 100:
                raise ConfigError(where, "a percentile between 0% and 100%", value)
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            self.fail(value, where)
        return value


class ListOf(Spec):
    """A list whose items all pass ``item``."""

    def __init__(self, item, length=None):
        self.item, self.length = item, length
        count = f"{length} " if length else ""
        self.expected = f"a list of {count}values, each {item.expected}"

    def check(self, value, where):
        if not isinstance(value, list) or (self.length and len(value) != self.length):
            self.fail(value, where)
        return [self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value)]


class AnyOf(Spec):
    """A value accepted by at least one of several specs (e.g. a number or a list)."""

    def __init__(self, *specs, expected=None):
        self.specs = specs
        self.expected = expected or " or ".join(s.expected for s in specs)

    def check(self, value, where):
        for spec in self.specs:
            try:
                return spec.check(value, where)
            except ConfigError:
                continue
        self.fail(value, where)


class Optional(Spec):
    """``null`` or a value accepted by ``spec``."""

    def __init__(self, spec):
        self.spec = spec
        self.expected = f"null or {spec.expected}"

    def check(self, value, where):
        if value is None:
            return None
        try:
            return self.spec.check(value, where)
        except ConfigError:
            self.fail(value, where)


class Ref(Spec):
    """A reference (``$name``) to an input or an earlier step's result of some kinds."""

    def __init__(self, *kinds):
        self.kinds = kinds
        articles = [("an " if k[0] in "aeiou" else "a ") + k for k in kinds]
        self.expected = "a reference ($name) to " + " or ".join(articles)

    def check(self, value, where):
        if not is_reference(value):
            self.fail(value, where)
        return value


class _Unchecked:
    """A value no check accepts, used to read a check's "expected" text."""

    def __repr__(self):
        return "<unchecked>"


class Checked(Spec):
    """A value that ``check`` (a function's own argument check) accepts.

    ``check(value, *args, **kwargs)`` raises
    :class:`~roidask.errors.ParameterError`; its "expected X, got Y" becomes
    the config's message under the step and key, so ``roidask validate``
    says what the function would say (a check that breaks on a value, e.g.
    on a list where it looks a name up, refuses it with its "expected"
    text). The value is kept as written (the
    function sees the same value at build time). ``expected`` defaults to
    what the check says when it refuses a value of no kind it knows.
    """

    def __init__(self, check, *args, expected=None, **kwargs):
        self.function, self.args, self.kwargs = check, args, kwargs
        if expected is None:
            try:
                check(_Unchecked(), *args, **kwargs)
            except ParameterError as err:
                expected = err.expected
            except Exception:  # a check that cannot even look at such a value
                expected = None
        self.expected = expected or Spec.expected

    def check(self, value, where):
        try:
            self.function(value, *self.args, **self.kwargs)
        except ParameterError as err:
            raise ConfigError(where, err.expected, err.got) from None
        except (TypeError, ValueError, ArithmeticError):  # a check that breaks on such a value
            self.fail(value, where)
        return value
