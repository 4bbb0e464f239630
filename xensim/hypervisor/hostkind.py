"""Host kinds: what sits under the guests (Xen, Linux with KVM, or QEMU alone).

xensim's core is one scheduler of vCPUs over pCPUs, so the three ways a PC
gets virtualised differ in *who* that scheduler is, what the privileged
domain 0 stands for, and which guest types exist:

==========  =========================  ======================  ====================
kind        scheduler of the vCPUs     domain 0 is             guest types
==========  =========================  ======================  ====================
xen         Xen (credit by default)    Domain-0, a PV guest    pv, pvh, hvm
kvm         host Linux's CFS           ``host``: the host      hvm (hardware
                                       kernel and its tasks    virtualised, KVM)
qemu-tcg    host Linux's CFS (QEMU's   ``host``: as for kvm    hvm (a whole
            MTTCG vCPU threads)                                emulated machine)
==========  =========================  ======================  ====================

Under kvm and qemu-tcg there is no hypervisor below the host OS: domain 0
is the host's own kernel and user tasks (vhost workers, QEMU's I/O
threads, the physical NIC and disk drivers), scheduled by the same policy
as the guests' vCPU threads, beside them.  A PV or PVH config cannot run
there: neither has a Xen to call.
"""

from __future__ import annotations

from typing import NamedTuple


class HostKind(NamedTuple):
    name: str
    scheduler: str
    """The default policy of Pool-0."""
    dom0_name: str
    guest_types: tuple[str, ...]
    hosted: bool
    """True when guests run as QEMU processes of a host Linux (no hypervisor below)."""


HOST_KINDS: dict[str, HostKind] = {
    "xen": HostKind("xen", "credit", "Domain-0", ("pv", "pvh", "hvm"), False),
    "kvm": HostKind("kvm", "cfs", "host", ("hvm",), True),
    "qemu-tcg": HostKind("qemu-tcg", "cfs", "host", ("hvm",), True),
}
HOST_ARCH = "x86_64"
"""The simulated machine's own architecture (the cost table's ``tcg_arch_*`` rows
are per guest architecture on this host)."""
GUEST_ARCHES = ("x86_64", "aarch64", "riscv64")


def host_kind(name: str) -> HostKind:
    """The kind called *name*; an unknown name is an error listing the known ones."""
    try:
        return HOST_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown hypervisor {name!r}; known: {', '.join(HOST_KINDS)}") from None


def check_guest(kind: HostKind, guest_type: str, arch: str) -> str | None:
    """Why a guest of *guest_type* and *arch* cannot run on a *kind* host (None: it can)."""
    if guest_type not in kind.guest_types:
        return (f"a {kind.name} host has no Xen underneath, so a type={guest_type} guest "
                f"cannot run; use type = \"hvm\" (a {kind.name} guest with the same vCPUs, "
                f"memory and devices)")
    if arch not in GUEST_ARCHES:
        return f"guest_arch {arch!r} is not one of {', '.join(GUEST_ARCHES)}"
    if arch != HOST_ARCH and kind.name != "qemu-tcg":
        return (f"guest_arch = \"{arch}\" needs binary translation: only a qemu-tcg host "
                f"runs a guest of another architecture than its own ({HOST_ARCH})")
    return None
