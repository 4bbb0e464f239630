"""The event-channel ABI: EVTCHNOP numbers, port states, VIRQs and op structs.

Mirrors: xen/include/public/event_channel.h and public/xen.h (VIRQ_*);
xen/include/xen/sched.h (ECS_*).  Values are Xen's, so a trace or a test can
compare numbers with the real hypervisor.  Each op is a dataclass whose IN
fields are constructor arguments and whose OUT fields default to 0 and are
filled in by the verb, as Xen copies the struct back to the guest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

NR_VIRQS = 24


class ECS(IntEnum):
    """Port states (xen/include/xen/sched.h)."""

    FREE = 0
    RESERVED = 1
    UNBOUND = 2
    INTERDOMAIN = 3
    PIRQ = 4
    VIRQ = 5
    IPI = 6


class EvtchnStat(IntEnum):
    """EVTCHNSTAT_* reported by EVTCHNOP_status."""

    closed = 0
    unbound = 1
    interdomain = 2
    pirq = 3
    virq = 4
    ipi = 5


class EVTCHNOP(IntEnum):
    bind_interdomain = 0
    bind_virq = 1
    bind_pirq = 2
    close = 3
    send = 4
    status = 5
    alloc_unbound = 6
    bind_ipi = 7
    bind_vcpu = 8
    unmask = 9
    reset = 10
    init_control = 11
    expand_array = 12
    set_priority = 13


class VIRQ(IntEnum):
    TIMER = 0
    DEBUG = 1
    CONSOLE = 2
    DOM_EXC = 3
    TBUF = 4
    DEBUGGER = 6
    XENOPROF = 7
    CON_RING = 8
    PCPU_STATE = 9
    MEM_EVENT = 10
    ARGO = 11
    ENOMEM = 12
    XENPMU = 13


def virq_is_global(virq: int) -> bool:
    """Per-vCPU VIRQs may bind on any vCPU; global ones only on vCPU 0."""
    return virq not in (VIRQ.TIMER, VIRQ.DEBUG, VIRQ.XENOPROF, VIRQ.XENPMU)


# ---- ops (public/event_channel.h); OUT fields default to 0 -------------------


@dataclass(slots=True)
class EvtchnAllocUnbound:
    dom: int
    remote_dom: int
    port: int = 0


@dataclass(slots=True)
class EvtchnBindInterdomain:
    remote_dom: int
    remote_port: int
    local_port: int = 0


@dataclass(slots=True)
class EvtchnBindVirq:
    virq: int
    vcpu: int
    port: int = 0


@dataclass(slots=True)
class EvtchnBindIpi:
    vcpu: int
    port: int = 0


@dataclass(slots=True)
class EvtchnClose:
    port: int


@dataclass(slots=True)
class EvtchnSend:
    port: int


@dataclass(slots=True)
class EvtchnStatus:
    dom: int
    port: int
    status: int = 0
    vcpu: int = 0
    remote_dom: int = 0  # u.unbound.dom / u.interdomain.dom
    remote_port: int = 0  # u.interdomain.port
    virq: int = 0  # u.virq


@dataclass(slots=True)
class EvtchnBindVcpu:
    port: int
    vcpu: int


@dataclass(slots=True)
class EvtchnUnmask:
    port: int


@dataclass(slots=True)
class EvtchnReset:
    dom: int
