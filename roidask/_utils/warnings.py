"""Warnings that point at the user's line, not at roidask's internals.

:func:`warn_user` sets ``stacklevel`` to the first frame outside roidask
(xarray's ``emit_user_level_warning`` pattern), so the same warning points
at the caller's code whether it is raised two or six calls deep. Frames of
dask and xarray are passed over as well: a warning raised inside a task
while the caller computes on the synchronous scheduler points at the
caller's ``compute()`` line. Where no caller's frame is on the stack (a task
on a worker thread), it points at the first frame outside roidask.

Examples
--------
>>> import warnings
>>> from roidask.errors import SignalWarning
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warn_user("a single time point; detrending skipped", SignalWarning)
>>> caught[0].category.__name__, caught[0].filename.startswith("<doctest")
('SignalWarning', True)
"""

import os
import sys
import warnings

import dask
import xarray

from roidask.errors import RoidaskWarning

_ROIDASK = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_CALLING_LIBRARIES = tuple(
    os.path.dirname(os.path.abspath(module.__file__)) + os.sep for module in (dask, xarray)
)


def user_stacklevel():
    """The ``stacklevel`` of the caller's frame, counted from the function that calls this.

    Level 1 is the caller of :func:`user_stacklevel`, as :func:`warnings.warn`
    counts from its own caller.

    Examples
    --------
    >>> user_stacklevel()  # called from outside roidask: the caller itself
    1
    """
    frame, level, outside = sys._getframe(1), 1, None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_ROIDASK):
            if outside is None:
                outside = level
            if not filename.startswith(_CALLING_LIBRARIES):
                return level
        frame, level = frame.f_back, level + 1
    return outside if outside is not None else level - 1


def warn_user(message, category=RoidaskWarning):
    """Emit ``message`` as a ``category`` warning that points at the caller's line.

    Parameters
    ----------
    message : str
        What happened and what to do about it.
    category : type, default=RoidaskWarning
        A subclass of :class:`~roidask.errors.RoidaskWarning`.

    Examples
    --------
    >>> import warnings
    >>> from roidask.errors import MaskWarning, RoidaskWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", RoidaskWarning)  # one filter for all of them
    ...     warn_user("computed an empty mask", MaskWarning)
    Traceback (most recent call last):
    ...
    roidask.errors.MaskWarning: computed an empty mask
    """
    warnings.warn(message, category, stacklevel=user_stacklevel())
