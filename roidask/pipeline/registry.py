"""The registry of pipeline operations: name -> function, parameter specs, result kind.

An operation is a plain function of keyword arguments that builds lazy
results; its :class:`Op` entry says which parameters it takes (with specs
used to validate configs) and what kind of result it returns, so references
between steps are checked before anything runs.

Examples
--------
>>> from roidask.pipeline.spec import Number
>>> @register("double", returns="image", params={"img": IMAGE, "factor": Number()})
... def double(img, factor=2):
...     return img * factor
>>> OPS["double"].returns
'image'
>>> del OPS["double"]
"""

import dataclasses
import inspect

from roidask.pipeline.spec import Ref

IMAGE = Ref("image")
OPS = {}


@dataclasses.dataclass
class Op:
    """A registered operation."""

    name: str
    function: object
    params: dict
    returns: str
    required: tuple

    @property
    def doc(self):
        return inspect.getdoc(self.function).splitlines()[0]


def register(name, *, returns, params):
    """Register ``function`` as pipeline op ``name`` (a decorator)."""

    def decorate(function):
        signature = inspect.signature(function)
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        required = tuple(p.name for p in signature.parameters.values()
                         if p.kind in named and p.default is inspect.Parameter.empty)
        OPS[name] = Op(name, function, dict(params), returns, required)
        return function

    return decorate
