"""xl's command table, as data: one row per command.

Mirrors: tools/xl/xl_cmdtable.c (``struct cmd_spec``: name, implementation,
can_dryrun, modifies, help, usage, options) and ``cmdtable_lookup``, which
accepts an unambiguous prefix.  Help text is generated from these rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.toolstack.xl.context import XlContext

CmdFn = Callable[["XlContext", list[str]], int]


@dataclass(frozen=True, slots=True)
class CmdSpec:
    name: str
    fn: CmdFn
    can_dryrun: bool
    modifies: bool
    desc: str
    usage: str
    options: str = ""


def _table() -> list[CmdSpec]:
    from xensim.toolstack.xl import (
        xl_cdrom,
        xl_channel,
        xl_console,
        xl_cpupool,
        xl_devices,
        xl_info,
        xl_mem,
        xl_migrate,
        xl_misc,
        xl_pci,
        xl_saverestore,
        xl_sched,
        xl_top,
        xl_vcpu,
        xl_vmcontrol,
        xl_xenstore,
    )

    return [
        CmdSpec("create", xl_vmcontrol.main_create, True, True,
                "Create a domain from config file <filename>",
                "<ConfigFile> [options] [vars]",
                "-h                      Print this help.\n"
                "-p                      Leave the domain paused after it is created.\n"
                "-c                      Connect to the console after the domain is created.\n"
                "-f FILE, --defconfig=FILE\n"
                "                     Use the given configuration file.\n"
                "-q, --quiet             Quiet.\n"
                "-n, --dryrun            Dry run - prints the resulting configuration\n"
                "                         (deprecated in favour of global -N option).\n"
                "-d                      Enable debug messages.\n"
                "-F                      Run in foreground until death of the domain.\n"
                "-e                      Do not wait in the background for the death of the "
                "domain."),
        CmdSpec("list", xl_info.main_list, False, False,
                "List information about all/some domains", "[options] [Domain]\n",
                "-l, --long              Output all VM details\n"
                "-v, --verbose           Prints out UUIDs and security context\n"
                "-Z, --context           Prints out security context\n"
                "-c, --cpupool           Prints the cpupool the domain is in\n"
                "-n, --numa              Prints out NUMA node affinity"),
        CmdSpec("destroy", xl_vmcontrol.main_destroy, False, True,
                "Terminate a domain immediately", "[options] <Domain>\n",
                "-f                      Permit destroying domain 0, which will only succeed\n"
                "                        when run from disaggregated toolstack domain with a\n"
                "                        hardware domain distinct from domain 0."),
        CmdSpec("shutdown", xl_vmcontrol.main_shutdown, False, True,
                "Issue a shutdown signal to a domain", "[options] <-a|Domain>",
                "-a, --all               Shutdown all guest domains.\n"
                "-h                      Print this help.\n"
                "-F                      Fallback to ACPI power event for HVM guests with\n"
                "                        no PV drivers.\n"
                "-w, --wait              Wait for guest(s) to shutdown.\n"),
        CmdSpec("reboot", xl_vmcontrol.main_reboot, False, True,
                "Issue a reboot signal to a domain", "[options] <-a|Domain>",
                "-a, --all               Shutdown all guest domains.\n"
                "-h                      Print this help.\n"
                "-F                      Fallback to ACPI reset event for HVM guests with\n"
                "                        no PV drivers.\n"
                "-w, --wait              Wait for guest(s) to reboot.\n"),
        CmdSpec("pause", xl_vmcontrol.main_pause, False, True,
                "Pause execution of a domain", "<Domain>"),
        CmdSpec("unpause", xl_vmcontrol.main_unpause, False, True,
                "Unpause a paused domain", "<Domain>"),
        # --- save and restore (xl_saverestore.c) ---------------------------------------
        CmdSpec("save", xl_saverestore.main_save, False, True,
                "Save a domain state to restore later",
                "[options] <Domain> <CheckpointFile> [<ConfigFile>]",
                "-h  Print this help.\n"
                "-c  Leave domain running after creating the snapshot.\n"
                "-p  Leave domain paused after creating the snapshot.\n"
                "-D  Store the domain id in the configuration."),
        CmdSpec("restore", xl_saverestore.main_restore, False, True,
                "Restore a domain from a saved state",
                "[options] [<ConfigFile>] <CheckpointFile>",
                "-h                       Print this help.\n"
                "-p                       Do not unpause domain after restoring it.\n"
                "-e                       Do not wait in the background for the death of the "
                "domain.\n"
                "-d                       Enable debug messages."),
        # --- per-domain odds and ends (xl_misc.c, xl_cdrom.c, xl_console.c) -------------
        CmdSpec("config-update", xl_misc.main_config_update, True, True,
                "Update a running domain's saved configuration, used when rebuilding "
                "the domain after reboot.\n"
                "WARNING: xl now has better capability to manage domain configuration, "
                "avoid using this command when possible",
                "<Domain> <ConfigFile> [options] [vars]",
                "-h                      Print this help.\n"
                "-f FILE, --defconfig=FILE\n                     Use the given configuration "
                "file.\n"
                "-d                      Enable debug messages.\n"),
        CmdSpec("dump-core", xl_misc.main_dump_core, False, True,
                "Core dump a domain", "<Domain> <filename>"),
        CmdSpec("cd-insert", xl_cdrom.main_cd_insert, True, True,
                "Insert a cdrom into a guest's cd drive", "<Domain> <VirtualDevice> <path>"),
        CmdSpec("cd-eject", xl_cdrom.main_cd_eject, True, True,
                "Eject a cdrom from a guest's cd drive", "<Domain> <VirtualDevice>"),
        CmdSpec("button-press", xl_misc.main_button_press, False, True,
                "Indicate an ACPI button press to the domain", "<Domain> <Button>",
                "<Button> may be 'power' or 'sleep'."),
        CmdSpec("vm-list", xl_misc.main_vm_list, False, False,
                "List guest domains, excluding dom0, stubdoms, etc.", ""),
        CmdSpec("trigger", xl_misc.main_trigger, False, True,
                "Send a trigger to a domain",
                "<Domain> <nmi|reset|init|power|sleep|s3resume> [<VCPU>]"),
        CmdSpec("sysrq", xl_misc.main_sysrq, False, True,
                "Send a sysrq to a domain", "<Domain> <letter>"),
        CmdSpec("set-parameters", xl_misc.main_set_parameters, False, True,
                "Set hypervisor parameters", "<Params>"),
        CmdSpec("channel-list", xl_channel.main_channellist, False, False,
                "List virtual channel devices for a domain", "<Domain(s)>"),
        # --------------------------------------------------------------------------------
        CmdSpec("mem-max", xl_mem.main_memmax, False, True,
                "Set the maximum amount reservation for a domain",
                "<Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>"),
        CmdSpec("mem-set", xl_mem.main_memset, False, True,
                "Set the current memory usage for a domain",
                "<Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>"),
        CmdSpec("console", xl_console.main_console, False, False,
                "Attach to domain's console",
                "[options] <Domain>\n"
                "-t <type>       console type, pv , serial or vuart\n"
                "-n <number>     console number"),
        CmdSpec("network-attach", xl_devices.main_networkattach, True, True,
                "Create a new virtual network device",
                "<Domain> [type=<type>] [mac=<mac>] [bridge=<bridge>] [ip=<ip>] "
                "[script=<script>] [backend=<BackDomain>] [vifname=<name>] [rate=<rate>] "
                "[model=<model>] [accel=<accel>]"),
        CmdSpec("network-list", xl_devices.main_networklist, False, False,
                "List virtual network interfaces for a domain", "<Domain(s)>"),
        CmdSpec("network-detach", xl_devices.main_networkdetach, False, True,
                "Destroy a domain's virtual network device", "<Domain> <DevId|mac>"),
        CmdSpec("block-attach", xl_devices.main_blockattach, True, True,
                "Create a new virtual block device", "<Domain> <disk-spec-component(s)>..."),
        CmdSpec("block-list", xl_devices.main_blocklist, False, False,
                "List virtual block devices for a domain", "<Domain(s)>"),
        CmdSpec("block-detach", xl_devices.main_blockdetach, False, True,
                "Destroy a domain's virtual block device", "[option] <Domain> <DevId>",
                "-f, --force        do not wait for the domain to release the device"),
        # --- PCI passthrough (xl_pci.py) ---
        CmdSpec("pci-attach", xl_pci.main_pciattach, False, True,
                "Insert a new pass-through pci device", "<Domain> <PCI_SPEC_STRING>"),
        CmdSpec("pci-detach", xl_pci.main_pcidetach, False, True,
                "Remove a domain's pass-through pci device", "<Domain> <PCI_SPEC_STRING>"),
        CmdSpec("pci-list", xl_pci.main_pcilist, False, False,
                "List pass-through pci devices for a domain", "<Domain>"),
        CmdSpec("pci-assignable-add", xl_pci.main_pciassignable_add, False, True,
                "Make a device assignable for pci-passthru", "[options] <BDF>",
                "-n NAME, --name=NAME    Name the assignable device.\n"
                "-h                      Print this help.\n"),
        CmdSpec("pci-assignable-remove", xl_pci.main_pciassignable_remove, False, True,
                "Remove a device from being assignable", "[options] <BDF>|NAME",
                "-h                      Print this help.\n"
                "-r                      Attempt to re-assign the device to the\n"
                "                        original driver."),
        CmdSpec("pci-assignable-list", xl_pci.main_pciassignable_list, False, False,
                "List all the assignable pci devices", "[options]",
                "-h                      Print this help.\n"
                "-n, --show-names        Display assignable device names where\n"
                "                        supplied.\n"),
        CmdSpec("vcpu-list", xl_vcpu.main_vcpulist, False, False,
                "List the VCPUs for all/some domains", "[Domain, ...]"),
        CmdSpec("vcpu-pin", xl_vcpu.main_vcpupin, True, True,
                "Set which CPUs a VCPU can use",
                "[option] <Domain> <VCPU|all> <Hard affinity|-|all> <Soft affinity|-|all>",
                "-f, --force        undo an override pinning done by the kernel"),
        CmdSpec("vcpu-set", xl_vcpu.main_vcpuset, False, True,
                "Set the number of active VCPUs allowed for the domain",
                "[option] <Domain> <vCPUs>",
                "-i, --ignore-host  Don't limit the vCPU based on the host CPU count"),
        CmdSpec("info", xl_info.main_info, False, False,
                "Get information about Xen host",
                "-n, --numa         List host NUMA topology information"),
        CmdSpec("sched-credit", xl_sched.main_sched_credit, False, True,
                "Get/set credit scheduler parameters",
                "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]] [-s [-t TSLICE] [-r RATELIMIT]] "
                "[-p CPUPOOL]",
                "-d DOMAIN, --domain=DOMAIN        Domain to modify\n"
                "-w WEIGHT, --weight=WEIGHT        Weight (int)\n"
                "-c CAP, --cap=CAP                 Cap (int)\n"
                "-s         --schedparam           Query / modify scheduler parameters\n"
                "-t TSLICE, --tslice_ms=TSLICE     Set the timeslice, in milliseconds\n"
                "-r RLIMIT, --ratelimit_us=RLIMIT  Set the scheduling rate limit, in microseconds\n"
                "-m DLY, --migration_delay_us=DLY  Set the migration delay, in microseconds\n"
                "-p CPUPOOL, --cpupool=CPUPOOL     Restrict output to CPUPOOL"),
        CmdSpec("sched-credit2", xl_sched.main_sched_credit2, False, True,
                "Get/set credit2 scheduler parameters",
                "[-d <Domain> [-w[=WEIGHT]]] [-p CPUPOOL]",
                "-d DOMAIN, --domain=DOMAIN     Domain to modify\n"
                "-w WEIGHT, --weight=WEIGHT     Weight (int)\n"
                "-c CAP,    --cap=CAP           Cap (int)\n"
                "-s         --schedparam        Query / modify scheduler parameters\n"
                "-r RLIMIT, --ratelimit_us=RLIMIT Set the scheduling rate limit, in microseconds\n"
                "-p CPUPOOL, --cpupool=CPUPOOL  Restrict output to CPUPOOL"),
        CmdSpec("sched-rtds", xl_sched.main_sched_rtds, False, True,
                "Get/set rtds scheduler parameters",
                "[-d <Domain> [-v[=VCPUID/all]] [-p[=PERIOD]] [-b[=BUDGET]] [-e[=EXTRATIME]]]",
                "-d DOMAIN, --domain=DOMAIN     Domain to modify\n"
                "-v VCPUID/all, --vcpuid=VCPUID/all    VCPU to modify or output;\n"
                "               Using '-v all' to modify/output all vcpus\n"
                "-p PERIOD, --period=PERIOD     Period (us)\n"
                "-b BUDGET, --budget=BUDGET     Budget (us)\n"
                "-e EXTRATIME, --extratime=EXTRATIME EXTRATIME (1=yes, 0=no)\n"
                "-c CPUPOOL, --cpupool=CPUPOOL  Restrict output to CPUPOOL"),
        CmdSpec("domid", xl_vmcontrol.main_domid, False, False,
                "Convert a domain name to domain id", "<DomainName>"),
        CmdSpec("domname", xl_vmcontrol.main_domname, False, False,
                "Convert a domain id to domain name", "<DomainId>"),
        CmdSpec("migrate", xl_migrate.main_migrate, False, True,
                "Migrate a domain to another host", "[options] <Domain> <host>",
                "-h              Print this help.\n"
                "-C <config>     Send <config> instead of config file from creation.\n"
                "-s <sshcommand> Use <sshcommand> instead of ssh.  String will be passed\n"
                "                to sh. If empty, run <host> instead of ssh <host> xl\n"
                "                migrate-receive [-d -e]\n"
                "-e              Do not wait in the background (on <host>) for the death\n"
                "                of the domain.\n"
                "--debug         Print huge (!) amount of debug during the migration process.\n"
                "-p              Do not unpause domain after migrating it.\n"
                "-D              Preserve the domain id"),
        CmdSpec("migrate-receive", xl_migrate.main_migrate_receive, False, True,
                "Restore a domain from a saved state", "- for internal use only"),
        CmdSpec("rename", xl_vmcontrol.main_rename, False, True,
                "Rename a domain", "<Domain> <NewDomainName>"),
        CmdSpec("debug-keys", xl_info.main_debug_keys, False, True,
                "Send debug keys to Xen", "<Keys>"),
        CmdSpec("dmesg", xl_info.main_dmesg, False, False,
                "Read and/or clear dmesg buffer", "[-c]",
                "  -c                        Clear dmesg buffer as well as printing it"),
        CmdSpec("top", xl_top.main_top, False, False,
                "Monitor a host and the domains in real time", "[options]",
                "-b, --batch             output in batch mode, no user input accepted\n"
                "-i N, --iterations=N    number of iterations before exiting\n"
                "-d S, --delay=S         seconds between updates (default 1)\n"
                "-v, --vcpus             output vcpu data\n"
                "-n, --networks          output vif network data\n"
                "-x, --vbds              output vbd block device data\n"
                "-r, --repeat-header     repeat table header before each domain\n"
                "-f, --full-name         output the full domain name (not truncated)\n"
                "-z, --dom0-first        display dom0 first (ignore sorting)"),
        CmdSpec("uptime", xl_info.main_uptime, False, False,
                "Print uptime for all/some domains", "[-s] [Domain]"),
        CmdSpec("cpupool-list", xl_cpupool.main_cpupoollist, False, False,
                "List CPU pools on host", "[-c|--cpus] [<CPU Pool>]",
                "-c, --cpus                     Output list of CPUs used by a pool"),
        CmdSpec("cpupool-create", xl_cpupool.main_cpupoolcreate, True, True,
                "Create a new CPU pool", "[options] [<ConfigFile>] [Variable=value ...]",
                "-f FILE, --defconfig=FILE     Use the given configuration file\n"
                "-n, --dryrun                  Dry run - prints the resulting configuration"),
        CmdSpec("cpupool-destroy", xl_cpupool.main_cpupooldestroy, False, True,
                "Deactivates a CPU pool", "<CPU Pool>"),
        CmdSpec("cpupool-rename", xl_cpupool.main_cpupoolrename, False, True,
                "Renames a CPU pool", "<CPU Pool> <new name>"),
        CmdSpec("cpupool-cpu-add", xl_cpupool.main_cpupoolcpuadd, False, True,
                "Adds a CPU to a CPU pool", "<CPU Pool> <CPU nr>|node:<node nr>"),
        CmdSpec("cpupool-cpu-remove", xl_cpupool.main_cpupoolcpuremove, False, True,
                "Removes a CPU from a CPU pool", "<CPU Pool> <CPU nr>|node:<node nr>"),
        CmdSpec("cpupool-migrate", xl_cpupool.main_cpupoolmigrate, False, True,
                "Moves a domain into a CPU pool", "<Domain> <CPU Pool>"),
        CmdSpec("xenstore-ls", xl_xenstore.main_xs_ls, False, False,
                "List a xenstore subtree as dom0 sees it (xensim: the xenstore-ls tool)",
                "[-h] [-s] [-p] [-f] [path]",
                "-p                      Show each node's permissions\n"
                "-f                      Print full paths, no truncation"),
        CmdSpec("xenstore-read", xl_xenstore.main_xs_read, False, False,
                "Read xenstore values as dom0 (xensim: the xenstore-read tool)",
                "[-h] [-p] [-s] key [...]",
                "-p                      Prefix each value with its path"),
        CmdSpec("xenstore-write", xl_xenstore.main_xs_write, False, True,
                "Write xenstore values as dom0 (xensim: the xenstore-write tool)",
                "[-h] [-s] key value [...]"),
        CmdSpec("xenstore-rm", xl_xenstore.main_xs_rm, False, True,
                "Remove xenstore nodes as dom0 (xensim: the xenstore-rm tool)",
                "[-h] [-s] [-t] key [...]",
                "-t                      Also remove parents left empty"),
        CmdSpec("xenstore-list", xl_xenstore.main_xs_list, False, False,
                "List a xenstore directory's children (xensim: the xenstore-list tool)",
                "[-h] [-s] [-p] key [...]",
                "-p                      Prefix each child with its directory"),
        CmdSpec("help", main_help, False, False, "Print this help", "[command]"),
    ]


def main_help(ctx: XlContext, args: list[str]) -> int:
    if args:
        spec = lookup(args[0])
        if spec is None:
            ctx.out.write(f"command \"{args[0]}\" not implemented\n")
            return 0
        print_usage(ctx.out, spec)
        return 0
    ctx.out.write("Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:\n\n")
    for spec in CMD_TABLE:
        ctx.out.write(f" {spec.name:<19} ")
        if len(spec.name) > 19:
            ctx.out.write("\n %-19s " % "")
        ctx.out.write(f"{spec.desc}\n")
    return 0


def print_usage(stream, spec: CmdSpec) -> None:  # type: ignore[no-untyped-def]
    flags = ("f" if spec.modifies else "") + ("N" if spec.can_dryrun else "")
    stream.write(f"Usage: xl [-vtT{flags}] {spec.name} {spec.usage}\n\n{spec.desc}.\n\n")
    if spec.options:
        stream.write(f"Options:\n\n{spec.options}\n")


XL_COMMANDS: tuple[str, ...] = (
    "create", "config-update", "list", "destroy", "shutdown", "reboot", "pci-attach",
    "pci-detach", "pci-list", "pci-assignable-add", "pci-assignable-remove",
    "pci-assignable-list", "pause", "unpause", "console", "vncviewer", "save", "migrate",
    "restore", "migrate-receive", "dump-core", "cd-insert", "cd-eject", "mem-max", "mem-set",
    "button-press", "vcpu-list", "vcpu-pin", "vcpu-set", "vm-list", "info", "sharing",
    "sched-credit", "sched-credit2", "sched-rtds", "domid", "domname", "rename", "trigger",
    "sysrq", "debug-keys", "set-parameters", "dmesg", "top", "network-attach", "network-list",
    "network-detach", "channel-list", "block-attach", "block-list", "block-detach",
    "vtpm-attach", "vtpm-list", "vtpm-detach", "vkb-attach", "vkb-list", "vkb-detach",
    "vdispl-attach", "vdispl-list", "vdispl-detach", "vsnd-attach", "vsnd-list", "vsnd-detach",
    "uptime", "claims", "cpupool-create", "cpupool-list", "cpupool-destroy", "cpupool-rename",
    "cpupool-cpu-add", "cpupool-cpu-remove", "cpupool-migrate", "cpupool-numa-split",
    "getenforce", "setenforce", "loadpolicy", "remus", "devd", "psr-hwinfo", "psr-cmt-attach",
    "psr-cmt-detach", "psr-cmt-show", "psr-cat-set", "psr-cat-show", "psr-mba-set",
    "psr-mba-show", "usbctrl-attach", "usbctrl-detach", "usbdev-attach", "usbdev-detach",
    "usb-list", "qemu-monitor-command", "dt-overlay",
)
"""Every row of xl 4.19's tools/xl/xl_cmdtable.c (x86, with dt-overlay), in its order.
Prefix lookup is ambiguous among these, not only among the commands xensim has, so an
abbreviation means what it means to real xl; docs/xl.md gives each one's status."""

def lookup(name: str) -> CmdSpec | None:
    """Exact name, else a prefix of exactly one of xl's commands (cmdtable_lookup) or of
    xensim's extra ones, if xensim has that one; None is xl's "command not implemented"."""
    for spec in CMD_TABLE:
        if spec.name == name:
            return spec
    names = XL_COMMANDS + tuple(s.name for s in CMD_TABLE if s.name not in XL_COMMANDS)
    matches = [n for n in names if n.startswith(name)]
    if len(matches) != 1:
        return None
    return next((s for s in CMD_TABLE if s.name == matches[0]), None)


CMD_TABLE: list[CmdSpec] = _table()
