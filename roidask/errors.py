"""Exception and warning classes whose messages say what is wrong and how to fix it.

Every error roidask raises for bad input derives from :class:`RoidaskError`,
so the command line can print it as one line and exit non-zero, while
library users can catch one class. Every warning derives from
:class:`RoidaskWarning` (a ``UserWarning``), so one filter silences them all.
"""


class RoidaskError(ValueError):
    """Base class of the errors roidask raises for bad input or parameters."""


class InputFileError(RoidaskError):
    """An input file is missing, unreadable, corrupt or of the wrong kind."""

    def __init__(self, path, problem, fix=None):
        self.path, self.problem, self.fix = str(path), problem, fix
        message = f"{path}: {problem}"
        if fix:
            message += f"; {fix}"
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.fix))


class GridMismatchError(RoidaskError):
    """Two images that must share a voxel grid do not."""


class ParameterError(RoidaskError):
    """A parameter has a wrong type or value ("expected X, got Y")."""

    def __init__(self, name, expected, got):
        self.name, self.expected, self.got = name, expected, got
        super().__init__(f"{name}: expected {expected}, got {got!r}")

    def __reduce__(self):
        return (type(self), (self.name, self.expected, self.got))


class ParameterTypeError(ParameterError, TypeError):
    """A parameter of the wrong type, where nilearn raises :class:`TypeError`.

    Also a :class:`TypeError` (and a :class:`ParameterError`, so a
    :class:`ValueError`), so ``except TypeError`` code written for nilearn
    keeps working: a threshold of None, labels given as a set, an empty list
    of images, a labels masker fitted without ``labels_img``.
    """


class DimensionError(ParameterError, TypeError):
    """An image has the wrong number of dimensions (3D where 4D is needed, or the reverse).

    Also a :class:`TypeError`, as nilearn's ``nilearn.exceptions.DimensionError``.
    ``file_dimension`` and ``required_dimension`` are nilearn's attributes (None
    when unknown).
    """

    def __init__(self, name, expected, got, file_dimension=None, required_dimension=None):
        self.file_dimension, self.required_dimension = file_dimension, required_dimension
        super().__init__(name, expected, got)

    def __reduce__(self):
        return (type(self), (self.name, self.expected, self.got, self.file_dimension,
                             self.required_dimension))


class NotAnImageError(RoidaskError, TypeError):
    """An object is not a roidask image (an xarray.DataArray on a voxel grid).

    Also a :class:`TypeError`, as nilearn's "input should be a NiftiLike object".
    """


class RoidaskWarning(UserWarning):
    """Base class of the warnings roidask emits (``warnings.simplefilter`` it to silence all).

    Each warning points at the line of the caller's code that led to it (see
    :func:`roidask._utils.warnings.warn_user`), not at roidask's internals.
    """


class MaskWarning(RoidaskWarning):
    """A computed mask is empty, or a mask or a resampling removes atlas regions."""


class SignalWarning(RoidaskWarning):
    """Signal cleaning changed or skipped a step the parameters ask for.

    nilearn warns in the same cases (a cutoff clipped to the Nyquist frequency,
    a single time point, percent signal change of a zero-mean signal, ...).
    """


class ResamplingWarning(RoidaskWarning):
    """Images or an atlas are resampled where the caller could avoid the cost."""


class RegionsWarning(RoidaskWarning):
    """Region extraction found no region (nilearn warns with the same words)."""
