"""One dictionary of the parameter texts several docstrings share, and :func:`fill_doc`.

A docstring names a shared text with a placeholder ``%(name)s`` on a line
of its own; :func:`fill_doc` puts ``DOCS[name]`` there, indented like the
placeholder, so one text serves a function (4 spaces), a class or a method
(8 spaces) alike. This is nilearn's ``fill_doc`` pattern; unlike ``%``
formatting, other ``%`` signs in a docstring ("97%") are left alone.

Examples
--------
>>> @fill_doc
... def split_maps(maps_img, min_region_size=1350):
...     '''Split maps into regions.
...
...     %(regions_parameters)s
...     '''
>>> print(split_maps.__doc__.splitlines()[4])
    maps_img : image, 3D or 4D
"""

import re

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)(?P<before>.*?)%\((?P<name>\w+)\)s", re.MULTILINE)

_MORPHOLOGY = """Parameters
----------
img : image, bool or int
    3D mask (nonzero is foreground), or 4D: each volume is {verb}.
structure : array of bool, 3D, optional
    Structuring element; default: ``generate_binary_structure(3, connectivity)``.
iterations : int, default=1
    Times {each}is repeated (at least 1).
connectivity : {{1, 2, 3}}, default=1
    Neighbourhood when ``structure`` is None: faces, edges, corners.
border_value : {{0, 1}}, default=0
    Value of the voxels outside the image{both}.

Returns
-------
image of bool
    Lazy, on the same grid and chunks as ``img``."""


def _morphology_text(verb, two_steps):
    return _MORPHOLOGY.format(
        verb=verb,
        each="each step " if two_steps else "the operation ",
        both=", in both steps" if two_steps else "",
    )


DOCS = {
    # maskers (roidask.maskers.Masker and LabelsMasker)
    "cleaning_parameters": """smoothing_fwhm : float, optional
    Smooth the data first (mm).
standardize : {False, 'zscore_sample', 'zscore', 'psc'}
standardize_confounds : bool
high_variance_confounds : bool
    Regress out, before the ``confounds`` given to ``transform``,
    :func:`roidask.signal.confounds.high_variance_confounds` (default
    parameters) of the images given to ``transform``, as they are given
    (all voxels, before resampling and smoothing), as nilearn does.
detrend : bool
low_pass, high_pass : float, optional
    Butterworth cutoffs in Hz (need ``t_r``).
t_r : float, optional
    Repetition time in seconds.""",
    "sample_mask_parameter": """sample_mask : array-like or list of array-like, optional
    Volumes to keep ("scrubbing"): indices, or booleans (True keeps),
    as :func:`roidask.signal.clean` takes them (with ``runs``, a
    list with one per run). Only the kept volumes are returned, with
    their ``t`` coordinates.""",
    # roidask.regions.connected_regions and connected_region_labels
    "regions_parameters": """Parameters
----------
maps_img : image, 3D or 4D
    Statistical or atlas maps (one per ``t``). Voxels equal to 0 are outside.
min_region_size : float, default=1350
    Regions of at most this volume (mm^3) are dropped.
extract_type : {"local_regions", "connected_components"}, default="local_regions"
    Split maps by random walker from smoothed local maxima, or into
    connected components (6-connected, as nilearn).
smoothing_fwhm : float or None, default=6
    FWHM in mm of the smoothing before seeds are found (``"local_regions"``).
mask_img : image, 3D, optional
    Mask on the same grid: maps are set to 0 outside it.""",
    # roidask.image.morphology: Parameters and Returns of the local operations
    "morphology_dilated": _morphology_text("dilated", two_steps=False),
    "morphology_eroded": _morphology_text("eroded", two_steps=False),
    "morphology_opened": _morphology_text("opened", two_steps=True),
    "morphology_closed": _morphology_text("closed", two_steps=True),
}


def _fill(docstring):
    def replace(match):
        first, *rest = DOCS[match["name"]].split("\n")  # KeyError: a name with no text
        indent = match["indent"]
        lines = [indent + match["before"] + first] + [indent + line if line else line
                                                      for line in rest]
        return "\n".join(lines)

    return _PLACEHOLDER.sub(replace, docstring)


def fill_doc(obj):
    """Fill the ``%(name)s`` placeholders of a docstring with the texts of ``DOCS``.

    For a class, the docstrings of the functions it defines (its methods)
    are filled too. Each text is indented like the line of its placeholder.
    Docstrings stripped by ``python -OO`` are left as they are (None).

    Parameters
    ----------
    obj : function or class
        Decorated object; its docstring is changed in place.

    Returns
    -------
    function or class
        ``obj`` itself.

    Raises
    ------
    KeyError
        A placeholder names no text of ``DOCS`` (at import, so a typo shows).

    Examples
    --------
    >>> @fill_doc
    ... class Extractor:
    ...     '''Signals of regions.
    ...
    ...     Parameters
    ...     ----------
    ...     %(cleaning_parameters)s
    ...     '''
    ...     def transform(self, imgs, sample_mask=None):
    ...         '''Extract.
    ...
    ...         Parameters
    ...         ----------
    ...         %(sample_mask_parameter)s
    ...         '''
    >>> Extractor.__doc__.splitlines()[5]
    '        Smooth the data first (mm).'
    >>> Extractor.transform.__doc__.splitlines()[4]
    '        sample_mask : array-like or list of array-like, optional'
    """
    if obj.__doc__:
        obj.__doc__ = _fill(obj.__doc__)
    if isinstance(obj, type):
        for member in vars(obj).values():
            if callable(member) and getattr(member, "__doc__", None):
                member.__doc__ = _fill(member.__doc__)
    return obj
