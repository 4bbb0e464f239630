"""What a guest prints while it boots, and where it goes: its console or Xen's.

The simulated guests run workloads, not kernels, so their boot messages are
written from the configuration, following what the real software prints:

- the **kernel** decides the text: a Linux kernel prints Linux's boot
  (``Booting paravirtualized kernel on Xen`` / ``Xen HVM`` / ``Xen PVH``,
  as ``pv_info.name`` says), Mini-OS its start-of-day banner
  (``Xen Minimal OS (pv)!`` and the start_info fields) when the kernel's
  file name says Mini-OS (``mini-os.gz``, a stub domain, PV-GRUB); other
  unikernels print as Linux does (not modelled); an HVM guest without
  ``kernel=`` boots its disk, and one with ``viridian`` set is taken for
  Windows, which writes nothing on a serial port;
- an **HVM guest's firmware** (hvmloader, then SeaBIOS, or ROMBIOS for
  qemu-xen-traditional) writes to Xen's debug port 0xE9, so its lines go
  to the hypervisor's console: ``xl dmesg`` shows them as ``(d1) HVM
  Loader``... (Xen's ``guest_printk``);
- the **console**: Linux logs to the last ``console=`` of its command line;
  by default ``hvc0`` (the PV console) in a PV or PVH guest and the VGA
  screen in an HVM one.  ``xl console`` shows the PV console of a PV/PVH
  guest and the serial port of an HVM guest, which exists only with
  ``serial=`` (as with real xl, ``xl console`` of an HVM guest without one
  fails).  An HVM guest booted from its disk is taken to log on ttyS0 (as
  cloud images' bootloaders are set up to).

Mirrors the text of: tools/firmware/hvmloader/hvmloader.c (``main``),
Mini-OS's ``print_start_of_day``, Linux's ``start_kernel``/``xen_start_kernel``.
Simplified: a few representative lines each, addresses made up but stable.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.domconfig import DomainConfig

SEABIOS_VERSION = "rel-1.16.3-0-ga6ed6b701f0a-Xen"
"""The SeaBIOS Xen 4.19 builds (Config.mk: SEABIOS_UPSTREAM_REVISION rel-1.16.3)."""

_MINIOS_MARKS = ("mini-os", "minios", "ioemu-stubdom", "pv-grub", "grub-x86_64-xen")
"""Kernel file names that are Mini-OS (or built on it: stub domains, PV-GRUB)."""


def guest_os(cfg: DomainConfig) -> str:
    """``linux``, ``minios`` or ``windows``: what boots (see the module note)."""
    if cfg.kernel:
        name = os.path.basename(cfg.kernel).lower()
        return "minios" if any(mark in name for mark in _MINIOS_MARKS) else "linux"
    if cfg.type == "hvm" and cfg.viridian not in (False, ()):
        return "windows"
    return "linux"


def linux_console(cfg: DomainConfig) -> str:
    """Where Linux's messages go: the last ``console=`` (``hvc0``, ``ttyS0``, ``tty0``)."""
    consoles = [w.split("=", 1)[1].split(",")[0] for w in (cfg.cmdline or "").split()
                if w.startswith("console=")]
    if consoles:
        return consoles[-1]
    if cfg.type == "hvm":
        return "ttyS0" if not cfg.kernel else "tty0"  # disk boot: see the module note
    return "hvc0"


def shows_console(cfg: DomainConfig) -> bool:
    """Does the console ``xl console`` opens (hvc0, or an HVM guest's ttyS0) get the
    kernel's messages?"""
    want = "ttyS0" if cfg.type == "hvm" else "hvc0"
    return linux_console(cfg) == want


def _linux(d: Domain, cfg: DomainConfig) -> list[str]:
    kernel = cfg.kernel or "/boot/vmlinuz-6.1.0-xen"
    on = {"pv": "Xen", "pvh": "Xen PVH", "hvm": "Xen HVM"}[cfg.type]
    lines = [
        f"[    0.000000] Linux version 6.1.0-xen ({kernel}) #1 SMP xensim",
        f"[    0.000000] Command line: {cfg.cmdline or ''}".rstrip(),
        *(["[    0.000000] Hypervisor detected: Xen HVM"] if cfg.type != "pv" else []),
        f"[    0.000000] Booting paravirtualized kernel on {on}",
        "[    0.000000] Xen version: 4.19 (preserve-AD)",
        f"[    0.010000] Memory: {cfg.memory * 1024}K available",
        f"[    0.020000] smp: Brought up 1 node, {cfg.vcpus} CPUs",
        f"[    0.500000] xensim workload: {cfg.workload}",
        *(f"[    0.600000] blkfront: {disk.vdev}: barrier or flush: disabled; persistent "
          "grants: disabled; indirect descriptors: disabled; bounce buffer: disabled;"
          for disk in cfg.disks),
    ]
    if not shows_console(cfg):
        return []  # the messages went to another console; no getty on this one either
    return lines + ["", f"{d.name} login: "]


def _minios(d: Domain, cfg: DomainConfig) -> list[str]:
    pages = cfg.memory * 256
    return [
        f"Xen Minimal OS ({'hvm' if cfg.type != 'pv' else 'pv'})!",
        "  start_info: 0x6a0000(VA)",
        f"    nr_pages: {pages:#x}",
        "  shared_inf: 0x7fc5b000(MA)",
        "     pt_base: 0x6a3000(VA)",
        "nr_pt_frames: 0x5",
        "    mfn_list: 0x660000(VA)",
        "   mod_start: 0x0(VA)",
        "     mod_len: 0",
        "       flags: 0x0",
        f"    cmd_line: {cfg.cmdline or ''}",
        "       stack: 0x41fb20-0x43fb20",
        "MM: Init",
        f"MM: Initialise page allocator for 0x6b8000 -> {pages * 4096:#x}",
        "MM: done",
        "Initialising timer interface",
        "Initialising console ... done.",
        "Initialising scheduler",
        "Initialising xenbus",
    ]


_OS_TEXT = {"linux": _linux, "minios": _minios, "windows": lambda d, cfg: []}


def console_text(d: Domain, cfg: DomainConfig) -> str:
    """What the guest's primary console shows once it has booted."""
    lines = _OS_TEXT[guest_os(cfg)](d, cfg)
    return "\n".join(lines) + "\n" if lines else ""


def firmware_lines(d: Domain, cfg: DomainConfig) -> list[str]:
    """An HVM guest's hvmloader and BIOS lines, as Xen prints them from port 0xE9."""
    if cfg.type != "hvm":
        return []
    bios = "ROMBIOS" if cfg.device_model_version == "qemu-xen-traditional" else "SeaBIOS"
    lines = [
        "HVM Loader",
        "Detected Xen v4.19.0",
        "Xenbus rings @0xfeffc000, event channel 1",
        f"System requested {bios}",
        "CPU speed is 3000 MHz",
        "Relocating guest memory for lowmem MMIO space disabled",
        f"Loading {bios} ...",
        "Creating MP tables ...",
        "Loading ACPI ..." if cfg.acpi else "",
        "vm86 TSS at fc100300",
        "BIOS map:",
        " 10000-100e3: Scratch space",
        " c0000-fffff: Main BIOS",
        "E820 table:",
        " [00]: 00000000:00000000 - 00000000:000a0000: RAM",
        " HOLE: 00000000:000a0000 - 00000000:000c0000",
        " [01]: 00000000:000c0000 - 00000000:00100000: RESERVED",
        f" [02]: 00000000:00100000 - 00000000:{cfg.memory << 20:08x}: RAM",
        f"Invoking {bios} ...",
    ]
    if bios == "SeaBIOS":
        lines += [f"SeaBIOS (version {SEABIOS_VERSION})", "Found Xen hypervisor signature "
                  "at 40000000", "Running on QEMU (i440fx)",
                  "Booting from Hard Disk..." if not cfg.kernel else "Booting from ROM..."]
    return [line for line in lines if line]
