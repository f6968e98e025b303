"""Argument checks shared by every public function: each raises ``TypeError`` (wrong kind of value) or
``ValueError`` (right kind, wrong value) with a message that names the argument and shows the value."""

import math
import numbers

import numpy as np


def check_int(name, value, minimum=None):
    """``value`` as an int; it must be an integer (not a bool or a float) and at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_number(name, value, minimum=None, maximum=None, below=None):
    """``value`` as a finite float, with ``minimum <= value <= maximum`` and ``value < below``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{name} must be below {below}, got {value}")
    return value


def check_choice(name, value, choices):
    """``value`` if it is one of ``choices``."""
    if not any(value == choice for choice in choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_texts(name, texts):
    """``texts`` as a list of str: a list, tuple, Series or 1-d array of strings, never one string (which would
    otherwise be taken as one tweet per character)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of str (one per tweet), not a single "
                        f"{type(texts).__name__}: wrap it in a list, e.g. [{texts[:20]!r}]")
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array of shape {texts.shape}")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}") from None
    if bad := [i for i, text in enumerate(texts) if not isinstance(text, str)]:
        first = texts[bad[0]]
        raise ValueError(f"{name} must hold only str; item {bad[0]} is {type(first).__name__} ({first!r}); "
                         f"{len(bad)} item(s) are not str")
    return texts
