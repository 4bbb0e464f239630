"""xl commands in-process (``host.xl``): output formats, column for column, and effects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xensim.host import Host
from xensim.toolstack.xl.xl_info import LIST_HEADER
from xensim.toolstack.xl.xl_top import header_line

ROOT = Path(__file__).resolve().parents[2]
HOG = str(ROOT / "configs" / "cpu-hog.cfg")
PV = str(ROOT / "configs" / "pv-guest.cfg")


@pytest.fixture
def host() -> Host:
    return Host(pcpus=2, memory=4096, seed=1)


def xl_ok(host: Host, cmd: str) -> str:
    rc, out, err = host.xl(cmd)
    assert rc == 0, err
    return out


def write_cfg(tmp_path: Path, text: str, name: str = "vm.cfg") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# --- create ----------------------------------------------------------------------------
def test_create_prints_parsing_line_and_creates(host: Host) -> None:
    rc, out, err = host.xl(f"create {HOG} 'name=\"h1\"'")
    assert (rc, out, err) == (0, "", f"Parsing config from {HOG}\n")
    assert host.domain("h1").domid == 1


def test_create_quiet_paused_and_dry_run(host: Host) -> None:
    rc, out, err = host.xl(f"create -q -p {HOG}")
    assert (rc, out, err) == (0, "", "")
    assert "--p---" in xl_ok(host, "list cpu-hog")
    rc, out, err = host.xl(f"create -n {PV} memory=64")
    dry = json.loads(out)
    assert rc == 0 and dry["domid"] is None
    assert dry["config"]["b_info"]["target_memkb"] == 64 * 1024  # libxl counts KiB
    rc, out, _ = host.xl(f"-N create {PV}")
    assert rc == 0 and json.loads(out)["config"]["c_info"]["name"] == "pv-guest"
    assert host.hv.domain_by_name("pv-guest") is None


def test_create_config_error_is_located_and_exits_1(host: Host, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, 'name = "x"\nmemory = [1\nvcpus = 2\n')
    rc, out, err = host.xl(f"create {cfg}")
    assert rc == 1 and out == ""
    assert err.splitlines()[1].startswith(f"{cfg}:3:1: config parsing error near `vcpus'")


def test_create_warnings_go_to_stderr(host: Host, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, 'name = "w"\nkernel = "/k"\ncmdline = "a"\nextra = "b"\n')
    rc, _, err = host.xl(f"create {cfg}")
    assert rc == 0
    assert "Warning: ignoring root= and extra= in favour of cmdline=" in err


def test_create_too_big_fails_like_xl_and_changes_nothing(host: Host) -> None:
    before = xl_ok(host, "list")
    rc, _, err = host.xl(f"create {HOG} memory=4000")
    assert rc == 1
    assert err.splitlines()[-1] == "failed to free memory for the domain"
    assert xl_ok(host, "list") == before


def test_create_console_prints_boot_text(host: Host) -> None:
    out = xl_ok(host, f"create -c {PV}")
    assert "Command line: root=/dev/xvda1 ro console=hvc0" in out
    assert out.endswith("pv-guest login: \n")


def test_create_usage_errors(host: Host) -> None:
    rc, _, err = host.xl(f"create {HOG} {PV}")
    assert rc == 2 and "Usage: xl [-vtTfN] create <ConfigFile> [options] [vars]" in err
    rc, _, err = host.xl("create")
    assert rc == 2 and err.startswith("Config file not specified")


# --- list --------------------------------------------------------------------------------
def test_list_format_and_states(host: Host) -> None:
    xl_ok(host, f"create {HOG}")
    host.run(ms=100)
    lines = xl_ok(host, "list").splitlines()
    assert lines[0] == LIST_HEADER
    assert lines[2] == "%-40s %5d %5d %5d     %s  %8.1f" % ("cpu-hog", 1, 256, 2, "r-----", 0.2)
    xl_ok(host, "pause cpu-hog")
    assert xl_ok(host, "list cpu-hog").splitlines()[1][63:69] == "--p---"
    rc, _, err = host.xl("unpause 0")
    assert rc == 1 and "not paused" in err


def test_list_verbose_and_cpupool_columns(host: Host) -> None:
    out = xl_ok(host, "list -v").splitlines()
    assert out[0].endswith("   UUID                            Reason-Code\tSecurity Label")
    assert re.match(r".* [0-9a-f-]{36}        -                -$", out[1])
    out = xl_ok(host, "list -c").splitlines()
    assert out[0].endswith("         Cpupool") and out[1].endswith("          Pool-0")


# --- shutdown, reboot, destroy, rename ---------------------------------------------------------
def test_shutdown_honours_on_poweroff_destroy(host: Host) -> None:
    xl_ok(host, f"create {PV}")
    rc, _, err = host.xl("shutdown pv-guest")
    assert rc == 0 and err == "Shutting down domain 1\n"
    assert host.hv.domain_by_name("pv-guest") is not None  # the guest takes a moment
    host.run(ms=500)
    assert host.hv.domain_by_name("pv-guest") is None


def test_reboot_restarts_with_a_new_domid(host: Host) -> None:
    xl_ok(host, f"create {PV}")
    rc, _, err = host.xl("reboot -w pv-guest")
    assert rc == 0
    assert err == ("Rebooting domain 1\nWaiting for 1 domains\n"
                   "Domain 1 has been shut down, reason code 1\n")
    assert host.hv.domain_by_name("pv-guest") is None  # xl sleeps 2 s before re-creating
    host.run(ms=2100)
    assert host.domain("pv-guest").domid == 2


def test_shutdown_preserve_leaves_the_domain_shut_down(host: Host) -> None:
    xl_ok(host, f"create {PV} 'on_poweroff=\"preserve\"'")
    xl_ok(host, "shutdown -w pv-guest")
    state = xl_ok(host, "list pv-guest").splitlines()[1][63:69]
    assert state[2:] == "-s--"  # shut down (reason poweroff), not paused


def test_shutdown_all_and_usage(host: Host) -> None:
    xl_ok(host, f"create {PV}")
    xl_ok(host, f"create {HOG}")
    rc, _, err = host.xl("shutdown -a -w")
    assert rc == 0 and "Waiting for 2 domains" in err
    assert list(host.hv.domains) == [0]
    rc, _, err = host.xl("shutdown")
    assert rc == 1 and err == "You must specify -a or a domain id.\n\n"


def test_hvm_without_pv_drivers_needs_acpi_fallback(host: Host, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, 'name="h"\ntype="hvm"\nxen_platform_pci=0\nmemory=64\n')
    xl_ok(host, f"create {cfg}")
    rc, _, err = host.xl("shutdown h")
    assert rc == 1 and "PV control interface not available" in err
    rc, _, err = host.xl("shutdown -F -w h")
    assert rc == 0 and "sending ACPI power button event" in err


def test_destroy_dom0_refused(host: Host) -> None:
    rc, _, err = host.xl("destroy 0")
    assert rc == 1 and err.startswith("Not destroying domain 0; use -f to force.")


def test_rename_and_name_clash(host: Host) -> None:
    xl_ok(host, f"create {PV}")
    xl_ok(host, f"create {HOG}")
    xl_ok(host, "rename pv-guest web")
    assert xl_ok(host, "domid web") == "1\n"
    assert xl_ok(host, "domname 1") == "web\n"
    rc, _, err = host.xl("rename web cpu-hog")
    assert rc == 1 and err.endswith("Can't rename domain 'web'.\n")


# --- vCPUs ---------------------------------------------------------------------------------
def test_vcpu_list_format(host: Host) -> None:
    xl_ok(host, f"create {HOG}")
    host.run(ms=50)
    lines = xl_ok(host, "vcpu-list cpu-hog").splitlines()
    assert lines[0] == ("Name                                ID  VCPU   CPU State   Time(s) "
                        "Affinity (Hard / Soft)")
    assert re.match(r"^cpu-hog {25}     1     0    [01]   r--       0\.0  all / all$", lines[1])


def test_vcpu_pin_and_dry_run(host: Host) -> None:
    xl_ok(host, f"create {HOG}")
    xl_ok(host, "vcpu-pin cpu-hog all 1 -")
    host.run(ms=100)
    lines = xl_ok(host, "vcpu-list cpu-hog").splitlines()[1:]
    assert all(line.endswith("  1 / all") for line in lines)
    assert all(line[44:49] == "    1" for line in lines)
    assert xl_ok(host, "-N vcpu-pin cpu-hog 0 0-1 1") == "cpumap: all 1\n"
    rc, _, err = host.xl("vcpu-pin cpu-hog x 1")
    assert rc == 1 and err == "Error: Invalid argument x as VCPU.\n"


def test_vcpu_set_takes_vcpus_offline_and_back(host: Host) -> None:
    xl_ok(host, f"create {HOG}")
    xl_ok(host, "vcpu-set cpu-hog 1")
    host.run(ms=50)
    assert xl_ok(host, "list cpu-hog").splitlines()[1][41:58].split() == ["1", "256", "1"]
    offline = xl_ok(host, "vcpu-list cpu-hog").splitlines()[2]
    assert offline[44:56] == "    -   --p "
    before = host.domain("cpu-hog").vcpus[1].runstate_snapshot(host.now)[0]
    host.run(ms=200)
    assert host.domain("cpu-hog").vcpus[1].runstate_snapshot(host.now)[0] == before
    xl_ok(host, "vcpu-set cpu-hog 2")
    host.run(ms=200)
    assert host.domain("cpu-hog").vcpus[1].runstate_snapshot(host.now)[0] > before
    rc, _, err = host.xl("vcpu-set cpu-hog 8")
    assert rc == 1 and err.startswith("You are overcommmitting!")


# --- memory --------------------------------------------------------------------------------
def test_mem_set_and_mem_max(host: Host) -> None:
    """mem-set sets a target the guest balloons to (tests/domains/test_balloon.py has the
    steps); mem-set above maxmem and mem-max below the target fail like xl."""
    xl_ok(host, f"create {HOG}")
    xl_ok(host, "mem-set cpu-hog 128m")
    host.run(ms=200)
    assert xl_ok(host, "list cpu-hog").splitlines()[1][47:52] == "  128"
    rc, _, err = host.xl("mem-set cpu-hog 512")
    assert rc == 1 and err == (
        "libxl: error: libxl_mem.c: Domain 1:memory_dynamic_max must be less than or equal "
        "to memory_static_max\ncannot set domid 1 dynamic max memory to : 512\n")
    xl_ok(host, "mem-max cpu-hog 4g")  # Xen's ceiling only: static-max stays 256 MiB
    rc, _, err = host.xl("mem-set cpu-hog 3500")
    assert rc == 1 and "memory_dynamic_max must be less than" in err
    rc, _, err = host.xl("mem-max cpu-hog 64")
    assert rc == 1 and err.endswith("cannot set domid 1 static max memory to : 64\n")
    rc, _, err = host.xl("mem-set cpu-hog 12q")
    assert rc == 1 and err == "invalid memory size: 12q\n"


# --- schedulers, pools ---------------------------------------------------------------------------
def test_sched_credit2_and_rtds_explain_the_pool_uses_credit(host: Host) -> None:
    xl_ok(host, f"create {HOG}")
    rc, out, err = host.xl("sched-credit2 -d cpu-hog")
    assert rc == 1 and out == "%-33s %4s %6s %4s\n" % ("Name", "ID", "Weight", "Cap")
    assert "does not use the credit2 scheduler" in err
    rc, _, err = host.xl("sched-rtds -d cpu-hog -p 10000 -b 4000")
    assert rc == 1 and "libxl_domain_sched_params_set failed." in err
    rc, out, err = host.xl("sched-rtds")
    assert rc == 0 and out == "" and "no cpupool uses the rtds scheduler" in err


def test_sched_credit_domain_query_and_checks(host: Host) -> None:
    out = xl_ok(host, "sched-credit -d 0")
    assert out == "Name                                ID Weight  Cap\n" \
                  "Domain-0                             0    256    0\n"
    rc, _, err = host.xl("sched-credit -w 10")
    assert rc == 1 and err == "Must specify a domain.\n"


def test_cpupool_list(host: Host) -> None:
    assert xl_ok(host, "cpupool-list") == (
        "Name               CPUs   Sched     Active   Domain count\n"
        "Pool-0               2    credit       y          1\n")
    assert xl_ok(host, "cpupool-list -c") == "Name               CPU list\nPool-0             0,1\n"


# --- host information ---------------------------------------------------------------------------
def test_info_keys_in_xl_order_and_filter(host: Host) -> None:
    out = xl_ok(host, "info")
    keys = [line.split(":")[0].rstrip() for line in out.splitlines()]
    assert keys[:5] == ["host", "release", "version", "machine", "nr_cpus"]
    assert keys[-1] == "xend_config_format"
    assert re.search(r"^free_memory            : 3072$", out, re.MULTILINE)
    assert xl_ok(host, "info nr_cpus") == "2\n"


def test_uptime_formats(host: Host) -> None:
    host.run(ms=3_723_000)
    xl_ok(host, f"create {PV}")
    host.run(ms=61_000)
    assert xl_ok(host, "uptime") == ("Name                                ID Uptime\n"
                                     "Domain-0                             0  1:03:04\n"
                                     "pv-guest                             1  0:01:01\n")
    assert xl_ok(host, "uptime -s 1") == " 01:03:04 up  0:01, pv-guest (1)\n"


def test_dmesg_and_clear(host: Host) -> None:
    out = xl_ok(host, "dmesg -c")
    assert out.startswith("(XEN) [    0.000000] Using scheduler:")
    assert xl_ok(host, "dmesg") == ""


def test_top_batch_frames(host: Host) -> None:
    xl_ok(host, f"create {HOG}")
    out = xl_ok(host, "top -b -i 2 -d 1")
    lines = out.splitlines()
    assert lines[0] == header_line()
    assert lines[0].split() == ["NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)",
                                "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "NETS", "NETTX(k)",
                                "NETRX(k)", "VBDS", "VBD_OO", "VBD_RD", "VBD_WR", "VBD_RSECT",
                                "VBD_WSECT", "SSID"]
    assert len(lines) == 6  # (header + 2 domains) x 2
    hog = lines[4].split()
    assert hog[0] == "cpu-hog" and hog[1] == "-----r"
    assert float(hog[3]) == pytest.approx(200.0, abs=1)
    assert hog[4] == "262144" and hog[8] == "2"
    assert lines[1].split()[3] == "0.0"  # first frame: no previous sample


def test_top_summary_lines_when_not_batch(host: Host) -> None:
    host.run(ms=100)
    out = xl_ok(host, "top")
    assert out.startswith("xentop - 00:00:00   Xen 4.19\n1 domains: 0 running, 1 blocked")


# --- help and dispatch -------------------------------------------------------------------------
def test_help_lists_commands_and_command_help(host: Host) -> None:
    out = xl_ok(host, "help")
    assert out.startswith("Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:")
    assert " vcpu-pin            Set which CPUs a VCPU can use\n" in out
    assert xl_ok(host, "help vcpu-set").startswith(
        "Usage: xl [-vtTf] vcpu-set [option] <Domain> <vCPUs>\n\n"
        "Set the number of active VCPUs allowed for the domain.\n")
    assert xl_ok(host, "uptime --help").startswith("Usage: xl [-vtT] uptime [-s] [Domain]")


def test_prefix_lookup_and_dryrun_refused(host: Host) -> None:
    assert xl_ok(host, "cpupool-l").startswith("Name")
    rc, _, err = host.xl("-N destroy 1")
    assert rc == 1 and err == "command does not implement -N (dryrun) option\n"
