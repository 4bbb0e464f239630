"""The 2-level event-channel ABI: shared-info bitmaps and per-vCPU selectors.

Mirrors: xen/common/event_2l.c (evtchn_2l_set_pending, evtchn_2l_unmask,
evtchn_2l_clear_pending) and, on the guest side, Linux's
drivers/xen/events/events_2l.c (evtchn_2l_handle_events); simplified: no
memory barriers (the simulator is single-threaded), no pollers.

A 64-bit guest sees ``evtchn_pending[64]`` and ``evtchn_mask[64]`` words of
64 bits each (4096 ports) in its shared-info page, and in each vCPU's
``vcpu_info`` an ``evtchn_upcall_pending`` byte, an ``evtchn_upcall_mask``
byte and the ``evtchn_pending_sel`` word that says which pending words to
scan.  Raising a port sets three levels (port bit, selector bit, upcall
flag) and kicks the vCPU only on the transition of the last one, which is
why a burst of sends costs one upcall.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BITS_PER_EVTCHN_WORD = 64
NR_EVTCHN_WORDS = BITS_PER_EVTCHN_WORD
EVTCHN_2L_NR_CHANNELS = BITS_PER_EVTCHN_WORD * BITS_PER_EVTCHN_WORD  # 4096
_WORD_MASK = (1 << BITS_PER_EVTCHN_WORD) - 1


@dataclass(slots=True)
class VcpuInfo:
    """The event fields of ``struct vcpu_info`` (public/xen.h)."""

    evtchn_upcall_pending: int = 0
    evtchn_upcall_mask: int = 0
    evtchn_pending_sel: int = 0
    # Guest-side (Linux per-CPU) round-robin cursor, not part of the ABI.
    scan_word: int = 0
    scan_bit: int = 0


@dataclass(slots=True)
class SharedInfo:
    """The event fields of ``struct shared_info`` plus each vCPU's vcpu_info."""

    vcpu_info: list[VcpuInfo]
    evtchn_pending: list[int] = field(default_factory=lambda: [0] * NR_EVTCHN_WORDS)
    evtchn_mask: list[int] = field(default_factory=lambda: [0] * NR_EVTCHN_WORDS)

    @classmethod
    def for_vcpus(cls, nr_vcpus: int) -> SharedInfo:
        return cls([VcpuInfo() for _ in range(nr_vcpus)])


def _bit(port: int) -> tuple[int, int]:
    return port // BITS_PER_EVTCHN_WORD, 1 << (port % BITS_PER_EVTCHN_WORD)


def bit_is_set(words: list[int], port: int) -> bool:
    w, b = _bit(port)
    return bool(words[w] & b)


def set_bit(words: list[int], port: int, value: bool) -> bool:
    """Set or clear one bit; return its old value (test_and_set/test_and_clear)."""
    w, b = _bit(port)
    old = bool(words[w] & b)
    words[w] = (words[w] | b) if value else (words[w] & ~b)
    return old


def mark_events_pending(vi: VcpuInfo) -> bool:
    """``vcpu_mark_events_pending``: True when the upcall flag went 0 -> 1 (kick)."""
    if vi.evtchn_upcall_pending:
        return False
    vi.evtchn_upcall_pending = 1
    return True


def evtchn_2l_set_pending(si: SharedInfo, vcpu_id: int, port: int) -> bool:
    """Raise *port* towards *vcpu_id*; True when the vCPU must be kicked.

    Already pending: nothing (the event merges).  Masked: the bit stays
    pending and waits for unmask.  Selector bit already set: the guest has
    not scanned that word yet, so no new upcall is needed.
    """
    if set_bit(si.evtchn_pending, port, True):
        return False
    if bit_is_set(si.evtchn_mask, port):
        return False
    return _raise_selector(si, vcpu_id, port)


def evtchn_2l_clear_pending(si: SharedInfo, port: int) -> None:
    set_bit(si.evtchn_pending, port, False)


def evtchn_2l_unmask(si: SharedInfo, vcpu_id: int, port: int) -> bool:
    """Clear the mask; re-raise a pending port.  True when a kick is due."""
    if not set_bit(si.evtchn_mask, port, False):
        return False
    if not bit_is_set(si.evtchn_pending, port):
        return False
    return _raise_selector(si, vcpu_id, port)


def _raise_selector(si: SharedInfo, vcpu_id: int, port: int) -> bool:
    """Set *port*'s selector bit on the vCPU; True when that newly needs an upcall
    (a selector bit already set means the guest has not scanned that word yet)."""
    vi = si.vcpu_info[vcpu_id]
    w, _ = _bit(port)
    if vi.evtchn_pending_sel & (1 << w):
        return False
    vi.evtchn_pending_sel |= 1 << w
    return mark_events_pending(vi)


def _lowest_from(bits: int, start: int) -> int:
    """Index of the lowest set bit at or above *start*, or -1."""
    bits &= (_WORD_MASK << start) & _WORD_MASK
    return (bits & -bits).bit_length() - 1 if bits else -1


def guest_scan_pending(
    si: SharedInfo, vcpu_id: int, bound_here: Callable[[int], bool] | None = None
) -> list[int]:
    """Guest upcall handler: collect and clear pending, unmasked ports.

    Follows Linux's evtchn_2l_handle_events order: clear the upcall flag,
    swap out the selector, then walk selected words and their bits starting
    just after the last port handled on this vCPU (round robin, so a busy low
    port cannot starve high ones), visiting the starting word twice (tail
    first, then head).  *bound_here* filters ports bound to other vCPUs, like
    Linux's per-CPU ``cpu_evtchn_mask``.  Returned ports are acked: their
    pending bits are cleared, as ``ack_dynirq`` does, before handlers run.
    """
    vi = si.vcpu_info[vcpu_id]
    handled: list[int] = []
    while vi.evtchn_upcall_pending:
        vi.evtchn_upcall_pending = 0
        words = vi.evtchn_pending_sel
        vi.evtchn_pending_sel = 0
        start_w, start_b = vi.scan_word, vi.scan_bit
        w, first = start_w, True
        while words:
            nxt = _lowest_from(words, w)
            if nxt < 0:
                w, first = 0, False
                continue
            w = nxt
            bits = si.evtchn_pending[w] & ~si.evtchn_mask[w] & _WORD_MASK
            if bound_here is not None:
                bits = _filter_bits(bits, w, bound_here)
            b = 0
            if w == start_w:
                if first:
                    b = start_b
                else:
                    bits &= (1 << start_b) - 1
            while True:
                b = _lowest_from(bits, b)
                if b < 0:
                    break
                port = w * BITS_PER_EVTCHN_WORD + b
                si.evtchn_pending[w] &= ~(1 << b)
                handled.append(port)
                b = (b + 1) % BITS_PER_EVTCHN_WORD
                vi.scan_word = w if b else (w + 1) % NR_EVTCHN_WORDS
                vi.scan_bit = b
                if b == 0:
                    break
            if w != start_w or not first:
                words &= ~(1 << w)
            first = False
            w = (w + 1) % NR_EVTCHN_WORDS
    return handled


def _filter_bits(bits: int, word: int, keep: Callable[[int], bool]) -> int:
    out = 0
    while bits:
        low = bits & -bits
        if keep(word * BITS_PER_EVTCHN_WORD + low.bit_length() - 1):
            out |= low
        bits ^= low
    return out
