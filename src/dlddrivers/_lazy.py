"""Deferred import of pandas, so that the workflow's start-up does not pay for it.

Snakemake reads the Snakefile (config checks, the stage registry, file lists) on every call,
including a dry run that has nothing to do; that work never touches a DataFrame, but the
package's modules import pandas at the top (about 0.25 s). :func:`defer_import` registers a
module object that runs the real module's code on first use instead: ``import pandas as pd``
binds it, and the first attribute access (``pd.DataFrame``, ``from pandas import ...`` or a
submodule import) executes pandas in place, once, under a lock.

The import machinery only reads ``__spec__`` and ``__name__`` of a module already in
``sys.modules``, so those two (and ``__class__``/``__dict__``) are answered without loading;
everything else loads first. This is the standard library's ``importlib.util.LazyLoader``
pattern, except that on Python 3.11 that loader executes the module as soon as a second
``import pandas`` statement reads ``__spec__``, and is not thread-safe.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types

_LOCK = threading.RLock()
_PEEK = frozenset({"__spec__", "__name__", "__class__", "__dict__"})
#: id of a module whose code is running -> the thread running it (which reads it freely)
_LOADING: dict[int, int] = {}


class _DeferredModule(types.ModuleType):
    """A module whose code runs on first attribute access (see the module docstring)."""

    def __getattribute__(self, attr: str):
        if attr in _PEEK or _LOADING.get(id(self)) == threading.get_ident():
            return object.__getattribute__(self, attr)
        _load(self)
        return getattr(self, attr)


def _load(module: types.ModuleType) -> None:
    """Run the module's code once; other threads wait until it has finished."""
    with _LOCK:
        if type(module) is not _DeferredModule:  # another thread loaded it meanwhile
            return
        spec = object.__getattribute__(module, "__spec__")
        _LOADING[id(module)] = threading.get_ident()
        spec._initializing = True
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(spec.name, None)  # a failed import leaves no half module behind
            raise
        finally:
            spec._initializing = False
            del _LOADING[id(module)]
        module.__class__ = types.ModuleType


def defer_import(name: str) -> bool:
    """Register top-level module ``name`` in ``sys.modules`` to be executed on first use.

    Does nothing (returns False) when the module is already imported or cannot be found (a
    later ``import`` then raises as usual); returns True when the module was deferred.
    """
    if name in sys.modules or "." in name:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return False
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _DeferredModule
    sys.modules[name] = module
    return True


def is_deferred(name: str) -> bool:
    """True while module ``name`` is registered but its code has not run yet."""
    return type(sys.modules.get(name)) is _DeferredModule
