"""The guest kernel on one vCPU: runs a workload program and takes upcalls.

A workload is a generator that yields *actions* in guest-visible terms:
:class:`Compute` (run this long), :class:`SleepUntil` (arm the singleshot
timer and block), :class:`Hypercall`, :class:`WaitEvent` (block until an
upcall says so) and :class:`Yield`.  :class:`GuestVcpu` turns each action
into work on the vCPU or into hypercalls, the way a PV Linux kernel does:
a sleep is ``set_timer_op`` then ``SCHEDOP_block``, and a vCPU with
nothing to do blocks.  Upcalls preempt whatever the vCPU is doing, cost
their delivery, and then the interrupted work resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from simpy.events import Timeout

from xensim.hypervisor.evtchn.abi import EVTCHNOP, EvtchnSend
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.sched_op import SCHEDOP
from xensim.hypervisor.vcpu import PauseFlag

if TYPE_CHECKING:
    from xensim.domains.guest.platform import Platform
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.time import SimTime
    from xensim.hypervisor.vcpu import VCPU


class Compute(NamedTuple):
    """Execute *ns* of guest code (progresses only while the vCPU runs)."""

    ns: int
    kind: str = "guest"


class SleepUntil(NamedTuple):
    """Block until absolute time *t* (``set_timer_op`` + ``SCHEDOP_block``)."""

    t: int


class Hypercall(NamedTuple):
    """Issue hypercall *nr*; the program receives its return value."""

    nr: int
    args: tuple[Any, ...] = ()


class WaitEvent(NamedTuple):
    """Block until *ready()* is true, re-checking after each upcall."""

    ready: Callable[[], object]
    """Any truth value will do (``queue.__len__`` is a common one): compiled, a ``bool``
    here would make an int a TypeError."""


class Yield(NamedTuple):
    """SCHEDOP_yield."""


GUEST_OPS = ("syscall", "pte_write", "page_fault", "tlb_miss", "cpuid")


class GuestOp(NamedTuple):
    """*n* guest-visible operations of one kind (one of :data:`GUEST_OPS`)."""

    op: str
    n: int = 1


class IoAccess(NamedTuple):
    """A driver's access to a device register; the program receives the value read."""

    space: int
    """IOREQ_TYPE_PIO (an ``in``/``out`` port) or IOREQ_TYPE_COPY (MMIO)."""
    addr: int
    size: int
    write: bool
    value: int = 0


def send_event(port: int) -> Hypercall:
    """``EVTCHNOP_send`` on *port*, as an action."""
    return Hypercall(HC.event_channel_op, (EVTCHNOP.send, EvtchnSend(port)))


Action = Compute | SleepUntil | Hypercall | WaitEvent | Yield | GuestOp | IoAccess
Program = Generator[Action, Any, None]
UpcallHandler = Callable[["GuestVcpu"], int]
"""Called while an upcall is being handled; returns the handler's ns of work."""


class GuestVcpu:
    """Drives one vCPU of a guest: a program, its sleeps and its upcalls."""

    def __init__(self, hyp: Hypervisor, vcpu: VCPU,
                 program: Callable[[GuestVcpu], Program]) -> None:
        self.hyp = hyp
        self.vcpu = vcpu
        self.core = hyp.core
        self.stats: dict[str, Any] = {}
        """What the workload reports (jobs, deadline misses, I/O...)."""
        self.upcall_handlers: list[UpcallHandler] = []
        """Kernel handlers run on each upcall (event channels hook in here)."""
        self.after_upcall: list[Callable[[], None]] = []
        """Work a handler defers until the upcall's cost is spent (Linux's bottom half)."""
        self.upcall_exit_ns = 0
        """VM-exit time the upcall's handlers caused (an HVM guest's LAPIC EOIs), charged
        as ``vmexit`` work before the handlers' kernel work so that it counts as Xen's."""
        self._in_upcall = False
        self._kick_deferred = False
        self._blocking = False
        self._wait: Callable[[], object] | None = None
        self.isr_queue: list[Callable[[GuestVcpu], Program]] = []
        """Interrupt handlers that touch device registers, run after the upcall's entry
        (an emulated device's ISR): nested programs, with interrupts masked."""
        self._hc_cost = hyp.costs["hypercall"]
        self._env: Any = hyp.env
        # NOTE: for speed (see benchmarks/): the continuations handed to the core, bound
        # once; compiled by mypyc, ``self._resume`` as a value is a lookup and a new
        # bound method each time.
        self._resume_cb: Callable[..., None] = self._resume
        self._check_wait_cb: Callable[[], None] = self._check_wait
        self.platform: Platform = vcpu.domain.info.get("platform") or _pv_platform(hyp, vcpu)
        """The domain's virtualisation mode: what each action costs."""
        self._price = self.platform.compute_ns
        vcpu.guest = self
        self.program = program(self)
        self._on_return: Callable[[Any], None] | None = None
        self._stack: list[tuple[Program, Callable[[Any], None] | None]] = []
        """Suspended programs while a nested one (an expansion, an ISR) runs."""

    @property
    def now(self) -> SimTime:
        return self._env._now  # type: ignore[no-any-return]

    def boot(self) -> None:
        """The first thing the vCPU does when it first runs is start the program."""
        self.core.set_work(self.vcpu, 0, self._resume_cb)

    # --- the program --------------------------------------------------------------
    def _run_nested(self, gen: Program, on_return: Callable[[Any], None]) -> None:
        """Run *gen* until it ends, then call *on_return* with its return value."""
        self._stack.append((self.program, self._on_return))
        self.program, self._on_return = gen, on_return
        self._resume()

    def _resume(self, value: Any = None) -> None:
        action: Any  # one of Action, told apart by its exact type (mypy cannot narrow by it)
        try:
            action = self.program.send(value)
        except StopIteration as stop:
            if self._stack:
                on_return = self._on_return
                self.program, self._on_return = self._stack.pop()
                assert on_return is not None
                on_return(stop.value)
                return
            self._wait = lambda: False
            self._block()
            return
        t = type(action)
        if t is Compute:
            price = self._price
            ns = action.ns if price is None else price(action.ns, action.kind)
            self.core.set_work(self.vcpu, ns, self._resume_cb, action.kind)
        elif t is SleepUntil:
            until = action.t
            self._wait = lambda: self.now >= until
            self._sleep(until)
        elif t is WaitEvent:
            self._wait = action.ready
            if action.ready():
                self._wait = None
                self._resume()
            else:
                self._block()
        elif t is Hypercall:
            self.hypercall(action.nr, action.args, self._resume_cb)
        elif t is GuestOp:
            self._run_nested(cast(Program, self.platform.expand(self, action)), self._resume_cb)
        elif t is IoAccess:
            self.platform.io(self, action, self._resume_cb)
        elif t is Yield:
            self.hypercall(HC.sched_op, (SCHEDOP.yield_,), self._resume_cb)
        else:
            raise TypeError(f"workload yielded {action!r}, not a guest action")

    def hypercall(self, nr: int, args: tuple[Any, ...], then: Callable[[int], None]) -> None:
        """Spend the hypercall's entry/exit cost, perform it, then continue with its rc."""
        v = self.vcpu
        hyp = self.hyp

        def issue() -> None:
            rc = hyp.hypercall(v, nr, *args)
            extra = hyp.hc_charge
            if extra:  # the handler's own work (per entry, per byte): still Xen's time
                hyp.hc_charge = 0
                self.core.set_work(v, extra, lambda: then(rc), "hypervisor")
            else:
                then(rc)

        self.core.set_work(v, self._hc_cost, issue, "hypervisor")

    def _sleep(self, until: int) -> None:
        self.platform.sleep(self, until)

    def _block(self) -> None:
        self._blocking = True
        self.platform.block(self)

    def _after_block(self, rc: int = 0) -> None:
        self._blocking = False
        # Runs when the vCPU executes again (at once if an event was pending).
        self.core.set_work(self.vcpu, 0, self._check_wait_cb)

    def _check_wait(self) -> None:
        wait = self._wait
        if wait is None or wait():
            self._wait = None
            self._resume()
        else:
            self._block()

    def _deferred_kick(self, _ev: object) -> None:
        self._kick_deferred = False
        v = self.vcpu
        if v.is_running and v.processor.curr is v:
            self.on_kick()

    # --- upcalls ------------------------------------------------------------------
    def on_kick(self) -> bool:
        """The hypervisor delivers an upcall to this (running) vCPU; False if it
        cannot be taken now (interrupts masked, or nothing pending)."""
        v = self.vcpu
        if self._in_upcall or not v.upcall_pending or v.pause_flags & PauseFlag.BLOCKED:
            return False
        if v.work_done is None:
            # Kicked from inside one of this vCPU's own continuations (it sent an
            # event that came straight back): deliver on return to the guest, once
            # the continuation has set its next work, as Xen does.
            if not self._kick_deferred:
                self._kick_deferred = True
                ev = Timeout(self.hyp.env, 0)
                ev.callbacks.append(self._deferred_kick)  # type: ignore[union-attr]
            return True
        self._in_upcall = True
        saved = self.core.interrupt_work(v)
        v.upcall_pending = False
        handler_ns = sum(h(self) for h in self.upcall_handlers)
        self.stats["upcalls"] = self.stats.get("upcalls", 0) + 1

        def done() -> None:
            if self.isr_queue:  # an emulated device's handler: its register accesses
                isr = self.isr_queue.pop(0)
                self._run_nested(isr(self), lambda _rv: done())
                return
            while self.after_upcall:  # still "in the upcall": a self-kick waits its turn
                todo, self.after_upcall = self.after_upcall, []
                for fn in todo:
                    fn()
            self._in_upcall = False
            left, cont, kind = saved
            if self._blocking:
                # The event arrived while this vCPU was entering SCHEDOP_block: Xen
                # returns from the block at once (an upcall is pending), and the
                # kernel re-checks for work instead of sleeping on it.
                self._blocking = False
                left, cont, kind = 0, self._check_wait_cb, "guest"
            cont = cont or self._check_wait_cb
            if v.upcall_pending:  # more arrived while handling: loop, as Linux does
                self.core.set_work(v, left, cont, kind)
                self.on_kick()
            elif left == 0:
                cont()  # nothing left of the interrupted work: continue at once
            else:
                self.core.set_work(v, left, cont, kind)

        kernel_ns = self.platform.interrupt_ns(self) + handler_ns
        exit_ns, self.upcall_exit_ns = self.upcall_exit_ns, 0
        if exit_ns:
            self.core.set_work(v, exit_ns, lambda: self.core.set_work(v, kernel_ns, done, "kernel"),
                               "vmexit")
        else:
            self.core.set_work(v, kernel_ns, done, "kernel")
        return True


def _pv_platform(hyp: Hypervisor, vcpu: VCPU) -> Platform:
    """The default mode of a domain nobody gave one (tests, dom0): PV."""
    from xensim.domains.guest.platform import platform_for

    d = vcpu.domain
    plat = d.info["platform"] = platform_for(hyp, d, d.guest_type)
    return plat
