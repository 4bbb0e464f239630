"""Checks shared by the hypercall handlers: what ``copy_from_guest`` would refuse.

A real guest passes C structs, so every field is an integer of a fixed width.
Our guests pass Python objects; a hostile one may pass anything.  Before a
handler hands an op to the pure subsystem modules it checks that every field
is an integer of a plausible width, and answers ``-EFAULT`` otherwise (the
error Xen gives when it cannot read the guest's struct).
"""

from __future__ import annotations

import dataclasses
from typing import Any

_LO, _HI = -(1 << 63), 1 << 64
_FIELDS: dict[type, tuple[str, ...]] = {}


def is_int(x: Any) -> bool:
    return isinstance(x, int) and type(x) is not bool and _LO <= x < _HI


def c_struct_ok(op: Any, types: tuple[type, ...]) -> bool:
    """*op* is one of *types* and all its fields are C integers (or nested structs)."""
    if type(op) not in types:
        return False
    names = _FIELDS.get(type(op))
    if names is None:
        names = _FIELDS[type(op)] = tuple(f.name for f in dataclasses.fields(op))
    for name in names:
        val = getattr(op, name)
        if type(val) is int:  # NOTE: for speed (see benchmarks/): the common case first
            if not _LO <= val < _HI:
                return False
        elif dataclasses.is_dataclass(val):
            if not c_struct_ok(val, (type(val),)):
                return False
        elif isinstance(val, list):
            continue  # an OUT array (frame_list): overwritten by Xen
        elif not is_int(val):  # IntEnum members pass: they are C integers too
            return False
    return True


def batch_ok(uops: Any, count: Any, types: tuple[type, ...]) -> bool:
    """A guest array of *count* structs: the list must hold that many valid entries."""
    if type(uops) is not list or not is_int(count) or not 0 <= count <= len(uops):
        return False
    return all(c_struct_ok(op, types) for op in uops[:count])
