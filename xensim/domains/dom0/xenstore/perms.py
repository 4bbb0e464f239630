"""Node permissions: an owner entry (also the default for others) plus exceptions.

Mirrors: tools/xenstored/core.c (perm_for_conn), tools/libs/store
xenstore_lib (xenstore_strings_to_perms, xenstore_perm_to_string);
simplified: no SET_TARGET (a device-model domain does not inherit its
target's rights).

``n5``/``r5``/``w5``/``b5`` = none/read/write/both for domain 5.  The first
entry names the owner, who always has full access, and gives everyone not
listed their access.  A privileged domain (dom0) has every right everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from xensim.domains.dom0.xenstore.errors import XsError

XS_PERM_NONE = 0
XS_PERM_READ = 1
XS_PERM_WRITE = 2
XS_PERM_OWNER = 8
_ALL = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER
_LETTERS = {"n": XS_PERM_NONE, "r": XS_PERM_READ, "w": XS_PERM_WRITE, "b": 3}
_BY_MASK = {v: k for k, v in _LETTERS.items()}


@dataclass(frozen=True, slots=True)
class Perm:
    domid: int
    perms: int

    def __str__(self) -> str:
        return f"{_BY_MASK[self.perms & 3]}{self.domid}"


Perms = tuple[Perm, ...]


def parse_perms(strings: list[str]) -> Perms:
    """``["n0", "r3"]`` -> Perms; EINVAL on anything malformed."""
    if not strings:
        raise XsError("EINVAL")
    out = []
    for s in strings:
        if len(s) < 2 or s[0] not in _LETTERS or not s[1:].isdigit():
            raise XsError("EINVAL")
        out.append(Perm(int(s[1:]), _LETTERS[s[0]]))
    return tuple(out)


def format_perms(perms: Perms) -> list[str]:
    return [str(p) for p in perms]


def perm_for(domid: int, privileged: bool, perms: Perms) -> int:
    """The access mask *domid* has on a node with *perms*."""
    if privileged or perms[0].domid == domid:
        return _ALL
    for p in perms[1:]:
        if p.domid == domid:
            return p.perms & _ALL
    return perms[0].perms & _ALL
