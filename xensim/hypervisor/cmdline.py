"""The Xen command line: boot parameters the scheduler reads once, at boot.

Mirrors: xen/common/kernel.c (parse_params: whitespace-separated options,
``key=value``, ``no-`` inverts a boolean, integers through ``simple_strtoll``
with base 0, an unknown key or a bad value is reported on the console and
the boot goes on) and the ``integer_param``/``boolean_param``/
``custom_param`` declarations in xen/common/sched/{core,credit,credit2}.c.
Simplified: only the scheduling options are known; any other option is kept
in the text (``xl info`` shows it) and reported as unknown, as Xen reports a
misspelt one.  Range checks that Xen makes in a policy's ``global_init`` are
made here too, with Xen's warning, so every pool built later sees the value
Xen would use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHED_DEFAULT = "credit"
"""CONFIG_SCHED_DEFAULT of a stock x86 build (Kconfig: SCHED_CREDIT_DEFAULT)."""
XEN_SYSCTL_SCHED_RATELIMIT_MIN, XEN_SYSCTL_SCHED_RATELIMIT_MAX = 100, 500_000
SCHED_DEFAULT_RATELIMIT_US = 1000
CREDIT2_RUNQUEUE_OPTS = ("cpu", "core", "socket", "node", "all")
LOADAVG_GRANULARITY_SHIFT = 10  # credit2.c; load_window_shift must exceed it
LOADAVG_PRECISION_SHIFT_MIN = 4

_INTEGER = {
    "sched_credit_tslice_ms": "sched_credit_tslice_ms",
    "sched_ratelimit_us": "sched_ratelimit_us",
    "load-balance-ratelimit": "load_balance_ratelimit",
    "vcpu_migration_delay": "vcpu_migration_delay",
    "sched_credit2_max_cpus_runqueue": "sched_credit2_max_cpus_runqueue",
    "sched_credit2_migrate_resist": "sched_credit2_migrate_resist",
    "credit2_load_window_shift": "credit2_load_window_shift",
    "credit2_load_precision_shift": "credit2_load_precision_shift",
    "credit2_balance_under": "credit2_balance_under",
    "credit2_balance_over": "credit2_balance_over",
    "credit2_cap_period_ms": "credit2_cap_period_ms",
}
_SIGNED = ("credit2_balance_under", "credit2_balance_over")
_BOOLEAN = {"tickle_one_idle_cpu": "tickle_one_idle_cpu",
            "sched_smt_power_savings": "sched_smt_power_savings"}
_BOOL_WORDS = {"no": 0, "off": 0, "false": 0, "disable": 0, "0": 0,
               "yes": 1, "on": 1, "true": 1, "enable": 1, "1": 1}
_U32 = 0xFFFF_FFFF


def _strtoll(text: str) -> int | None:
    """``simple_strtoll(text, &end, 0)`` that must consume all of *text*: 0x.., 0.., decimal."""
    body = text[1:] if text[:1] in "+-" else text
    sign = -1 if text[:1] == "-" else 1
    try:
        if body[:2].lower() == "0x":
            value = int(body[2:], 16)
        elif body.startswith("0") and len(body) > 1:
            value = int(body[1:], 8)
        else:
            value = int(body, 10)
    except ValueError:
        return None
    return sign * value


@dataclass
class XenCmdline:
    """The scheduling boot parameters, with Xen 4.19's defaults."""

    text: str = ""
    """The command line as given (``xl info``'s ``xen_commandline``)."""
    sched: str = SCHED_DEFAULT
    sched_given: bool = False
    sched_credit_tslice_ms: int = 30
    sched_ratelimit_us: int = SCHED_DEFAULT_RATELIMIT_US
    load_balance_ratelimit: int = 1000
    """credit's CSCHED_DEFAULT_LOAD_BALANCE_RATELIMIT_US (Xen 4.18+)."""
    vcpu_migration_delay: int = 0
    tickle_one_idle_cpu: int = 1
    sched_smt_power_savings: int = 0
    credit2_runqueue: str = "socket"
    sched_credit2_max_cpus_runqueue: int = 16
    sched_credit2_migrate_resist: int = 500
    credit2_load_window_shift: int = 30
    credit2_load_precision_shift: int = 18
    credit2_balance_under: int = 0
    credit2_balance_over: int = -3
    credit2_cap_period_ms: int = 10
    messages: list[str] = field(default_factory=list)
    """What Xen prints while parsing (``xl dmesg``)."""

    @classmethod
    def parse(cls, text: str | None) -> XenCmdline:
        """Parse *text* the way ``parse_params`` does: never fails, complains on the console."""
        cmd = cls(text=(text or "").strip())
        for opt in cmd.text.split(" "):
            if opt:
                cmd._option(opt)
        cmd._global_checks()
        return cmd

    def _option(self, opt: str) -> None:
        key, eq, value = opt.partition("=")
        name = key
        assert_ = not key.startswith("no-")
        if not assert_:
            key = key[3:]
        ok = True
        if key == "sched":
            self.sched, self.sched_given = value[:9], True  # char opt_sched[10]
        elif key == "credit2_runqueue":
            ok = assert_ and value in CREDIT2_RUNQUEUE_OPTS
            if ok:
                self.credit2_runqueue = value
        elif key in _INTEGER:
            number = _strtoll(value) if eq else None
            ok = number is not None and -(1 << 31) <= number <= _U32
            if ok:
                assert number is not None
                number &= _U32
                if key in _SIGNED and number > 0x7FFF_FFFF:
                    number -= 1 << 32  # an ``int`` variable reads the same bits as negative
                setattr(self, _INTEGER[key], number)
        elif key in _BOOLEAN:
            flag = _BOOL_WORDS.get(value.lower(), -1) if value else 1
            ok = flag >= 0
            if ok:
                setattr(self, _BOOLEAN[key], int(assert_ == bool(flag)))
        else:
            self.messages.append(f'parameter "{name}" unknown!')
            return
        if not ok:
            self.messages.append(f'parameter "{name}" has invalid value "{value}", rc=-22!')

    def _global_checks(self) -> None:
        """The range checks of scheduler_init() and the policies' global_init()."""
        if self.sched_ratelimit_us and not (
                XEN_SYSCTL_SCHED_RATELIMIT_MIN <= self.sched_ratelimit_us
                <= XEN_SYSCTL_SCHED_RATELIMIT_MAX):
            self.messages.append(
                "WARNING: sched_ratelimit_us outside of valid range "
                f"[{XEN_SYSCTL_SCHED_RATELIMIT_MIN},{XEN_SYSCTL_SCHED_RATELIMIT_MAX}].\n"
                f" Resetting to default {SCHED_DEFAULT_RATELIMIT_US}")
            self.sched_ratelimit_us = SCHED_DEFAULT_RATELIMIT_US
        if not 1 <= self.sched_credit_tslice_ms <= 1000:
            self.messages.append("WARNING: sched_credit_tslice_ms outside of valid range "
                                 "[1,1000].\n Resetting to default 30")
            self.sched_credit_tslice_ms = 30
        if self.load_balance_ratelimit > 1_000_000:
            self.messages.append("WARNING: load-balance-ratelimit outside of valid range "
                                 "[0,1000000]us.\nSetting to max.")
            self.load_balance_ratelimit = 1_000_000
        if self.vcpu_migration_delay > 100_000:
            self.messages.append("WARNING: vcpu_migration_delay outside of valid range "
                                 "[0,100000]us.\nResetting to default: 0")
            self.vcpu_migration_delay = 0
        if self.sched_credit2_max_cpus_runqueue == 0:
            self.sched_credit2_max_cpus_runqueue = 16  # xensim: a 0 would divide by zero
            self.messages.append('parameter "sched_credit2_max_cpus_runqueue" has invalid '
                                 'value "0", rc=-22!')
        # csched2_global_init
        if self.credit2_load_precision_shift < LOADAVG_PRECISION_SHIFT_MIN:
            self.messages.append("WARNING: csched2_global_init: opt_load_precision_shift "
                                 f"{self.credit2_load_precision_shift} below min "
                                 f"{LOADAVG_PRECISION_SHIFT_MIN}, resetting")
            self.credit2_load_precision_shift = LOADAVG_PRECISION_SHIFT_MIN
        if self.credit2_load_window_shift <= LOADAVG_GRANULARITY_SHIFT:
            self.messages.append("WARNING: csched2_global_init: opt_load_window_shift "
                                 f"{self.credit2_load_window_shift} too short, resetting")
            self.credit2_load_window_shift = 30
        if self.credit2_cap_period_ms < 1:  # CSCHED2_BDGT_REPL_PERIOD < CSCHED2_MIN_TIMER
            self.messages.append("WARNING: csched2_global_init: opt_cap_period "
                                 f"{self.credit2_cap_period_ms} too small, resetting")
            self.credit2_cap_period_ms = 10
