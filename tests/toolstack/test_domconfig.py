"""DomainConfig: xl's defaults, typed validation, diskspec/vif forms, round trips."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xensim.toolstack.diskspec import DiskSpec, DiskSpecError, parse_diskspec
from xensim.toolstack.domconfig import COMMAND_LINE, DEFAULTS, DomainConfig
from xensim.toolstack.vifspec import NIC_MODELS, VifSpec, parse_vif_rate, parse_vifspec
from xensim.toolstack.xlcfg import Atom, ListValue, XlCfgError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PV = 'name = "g"\nkernel = "/boot/vmlinuz"\n'


def cfg(text: str, filename: str = "vm.cfg", overrides=()) -> DomainConfig:
    return DomainConfig.from_text(text, filename, list(overrides))


def err(text: str, filename: str = "vm.cfg", overrides=()) -> str:
    with pytest.raises(XlCfgError) as info:
        cfg(text, filename, overrides)
    return str(info.value)


# -- defaults -------------------------------------------------------------------


def test_minimal_pv_guest_gets_xl_and_libxl_defaults():
    c = cfg(PV)
    assert (c.name, c.type, c.kernel) == ("g", "pv", "/boot/vmlinuz")
    assert (c.memory, c.maxmem) == (32, 32)  # libxl: LIBXL_MEMKB_DEFAULT -> 32 MiB
    assert (c.vcpus, c.maxvcpus) == (1, 1)
    assert (c.cpu_weight, c.cap, c.pool) == (256, 0, "Pool-0")
    assert (c.on_poweroff, c.on_reboot, c.on_crash, c.on_watchdog) == (
        "destroy",
        "restart",
        "destroy",
        "destroy",
    )
    assert (c.hap, c.acpi, c.apic, c.viridian) == (True, True, True, False)
    assert (c.device_model_version, c.device_model_stubdomain_override) == ("qemu-xen", False)
    assert c.xen_platform_pci is True
    assert (c.vnc, c.sdl, c.boot, c.serial) == (False, False, None, None)
    assert (c.cpus, c.cpus_soft, c.cmdline, c.ramdisk, c.bootloader) == (None,) * 5
    assert (c.disks, c.vifs, c.pci, c.extra_keys) == ((), (), (), ())
    assert c.workload == "idle"
    assert c.warnings == ()


def test_hvm_defaults_differ_where_libxl_says_so():
    c = cfg('name = "h"\ntype = "hvm"\n')
    assert (c.type, c.vnc, c.boot) == ("hvm", True, "cd")
    assert c.kernel is None  # HVM boots firmware; no kernel needed


def test_maxmem_and_maxvcpus_follow_memory_and_vcpus():
    c = cfg(PV + "memory = 512\nvcpus = 4\n")
    assert (c.memory, c.maxmem, c.vcpus, c.maxvcpus) == (512, 512, 4, 4)
    c = cfg(PV + "memory = 512\nmaxmem = 1024\nvcpus = 2\nmaxvcpus = 8\n")
    assert (c.maxmem, c.maxvcpus) == (1024, 8)


def test_defaults_table_is_the_single_source():
    assert DomainConfig.__dataclass_fields__["cpu_weight"].default == DEFAULTS["cpu_weight"]
    assert cfg(PV).memory == DEFAULTS["memory"]


# -- type / builder ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ('type = "pv"', "pv"),
        ('type = "pvh"', "pvh"),
        ('type = "hvm"', "hvm"),
        ('builder = "hvm"', "hvm"),
        ('builder = "generic"', "pv"),
        ('type = "h"', "hvm"),  # xl compares with strncmp(buf, "hvm", strlen(buf))
        ('type = "hvm"\nbuilder = "hvm"', "hvm"),
    ],
)
def test_domain_type(line, want):
    assert cfg(PV + line + "\n").type == want


def test_bad_type_names_the_choices():
    assert err(PV + 'type = "xen"\n') == (
        'vm.cfg:3:8: type: invalid domain type "xen" (expected one of: pv, pvh, hvm)'
    )


def test_contradicting_builder_and_type():
    assert err(PV + 'type = "pv"\nbuilder = "hvm"\n') == (
        'vm.cfg:4:11: builder: contradicting "builder" and "type" options specified'
    )


# -- typed values and their errors ------------------------------------------------


def test_wrong_type_string_for_integer_exact_message():
    assert err('name = "g"\nkernel = "/k"\nmemory = "lots"\n') == (
        'vm.cfg:3:10: memory: expected an integer (MiB), got string "lots"'
    )


def test_list_where_a_scalar_is_wanted():
    assert (
        err(PV + "vcpus = [ 2 ]\n") == "vm.cfg:3:9: vcpus: expected an integer (vCPUs), got a list"
    )
    assert err('name = [ "a" ]\n') == "vm.cfg:1:8: name: expected a string, got a list"


def test_scalar_where_a_list_is_wanted():
    assert err(PV + 'disk = "/dev/x,,xvda"\n') == (
        'vm.cfg:3:8: disk: expected a list, got string "/dev/x,,xvda"'
    )


def test_nested_list_item_rejected_for_string_lists():
    assert err(PV + 'pci = [ "01:00.0", [ "x" ] ]\n') == (
        "vm.cfg:3:20: pci: expected a string in the list, got a list"
    )


def test_out_of_range_weight_exact_message():
    assert err(PV + "cpu_weight = 70000\n") == (
        "vm.cfg:3:14: cpu_weight: 70000 is out of range (1..65535)"
    )
    assert err(PV + "cpu_weight = 0\n") == "vm.cfg:3:14: cpu_weight: 0 is out of range (1..65535)"


def test_negative_cap_rejected_and_weight_bounds_accepted():
    assert err(PV + 'cap = "-5"\n') == "vm.cfg:3:7: cap: -5 is out of range (0..)"
    assert cfg(PV + "cpu_weight = 1\n").cpu_weight == 1
    assert cfg(PV + "cpu_weight = 65535\n").cpu_weight == 65535


def test_numbers_are_read_like_strtol_base_0():
    assert cfg(PV + "memory = 0x200\n").memory == 512
    assert cfg(PV + 'memory = "010"\n').memory == 8  # leading 0: octal, as in C
    assert cfg(PV + 'memory = "512"\n').memory == 512  # a quoted number is fine in xl
    assert err(PV + "memory = 12ab\n") == (
        "vm.cfg:3:10: memory: expected an integer (MiB), got number 12ab"
    )


def test_numbers_are_fine_strings():
    assert cfg('name = 42\nkernel = "/k"\n').name == "42"


def test_plus_equals_with_numbers_is_refused():
    assert err(PV + "memory = 5\nmemory += 5\n") == "vm.cfg:4:11: memory: can't use += with numbers"


def test_booleans_are_integers():
    c = cfg('name = "h"\ntype = "hvm"\nhap = 0\nacpi = 2\napic = "0"\nvnc = 0\nsdl = 1\n')
    assert (c.hap, c.acpi, c.apic, c.vnc, c.sdl) == (False, True, False, False, True)
    assert (
        err(PV + 'hap = "yes"\n')
        == 'vm.cfg:3:7: hap: expected an integer (0 or 1), got string "yes"'
    )


@pytest.mark.parametrize(
    "action",
    [
        "destroy",
        "restart",
        "rename-restart",
        "preserve",
        "coredump-destroy",
        "coredump-restart",
        "soft-reset",
    ],
)
def test_shutdown_actions(action):
    c = cfg(
        PV + f'on_poweroff = "{action}"\non_reboot = "{action}"\n'
        f'on_crash = "{action}"\non_watchdog = "{action}"\n'
    )
    assert {c.on_poweroff, c.on_reboot, c.on_crash, c.on_watchdog} == {action}


def test_bad_enum():
    assert err(PV + 'on_crash = "explode"\n') == (
        'vm.cfg:3:12: on_crash: unknown action "explode" (expected one of: destroy, restart, '
        "rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)"
    )
    assert "device_model_version" in err(PV + 'device_model_version = "qemu-kvm"\n')


def test_name_is_required():
    assert err('kernel = "/k"\n') == "vm.cfg:1:1: name: domain name must be specified"


def test_pv_guest_needs_kernel_or_bootloader():
    assert "Neither kernel nor bootloader specified" in err('name = "g"\n')
    assert cfg('name = "g"\nbootloader = "pygrub"\n').bootloader == "pygrub"


def test_maxvcpus_below_vcpus():
    assert (
        err(PV + "vcpus = 4\nmaxvcpus = 2\n") == "vm.cfg:4:12: maxvcpus: maxvcpus (2) < vcpus (4)"
    )


def test_maxmem_below_memory():
    assert err(PV + "memory = 512\nmaxmem = 256\n") == (
        "vm.cfg:4:10: maxmem: maxmem (256) < memory (512)"
    )


def test_hvmloader_as_kernel_is_dropped_with_xls_warning():
    c = cfg('name = "h"\ntype = "hvm"\nkernel = "/usr/lib/xen/boot/hvmloader"\n')
    assert c.kernel is None
    assert any("override HVM guest firmware" in w for w in c.warnings)


# -- cmdline / root / extra ---------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "want"),
    [
        ('root = "/dev/xvda1"', "root=/dev/xvda1"),
        ('extra = "quiet"', "quiet"),
        ('root = "/dev/xvda1 ro"\nextra = "console=hvc0"', "root=/dev/xvda1 ro console=hvc0"),
        ('cmdline = "init=/bin/sh"', "init=/bin/sh"),
    ],
)
def test_cmdline_is_built_like_parse_cmdline(lines, want):
    assert cfg(PV + lines + "\n").cmdline == want


def test_cmdline_wins_over_root_and_extra_with_a_warning():
    c = cfg(PV + 'cmdline = "a"\nroot = "/dev/x"\n')
    assert c.cmdline == "a"
    assert c.warnings == ("Warning: ignoring root= and extra= in favour of cmdline=",)


# -- cpus ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ['"0-3,^1"', '"all"', '"nodes:0"', '"node:0-1,^3"', "3", '"^2,0-3"']
)
def test_cpumap_syntax_accepted_without_a_host(spec):
    c = cfg(PV + f"cpus = {spec}\ncpus_soft = {spec}\n")
    assert c.cpus == c.cpus_soft == spec.strip('"')


def test_cpus_as_a_list_is_per_vcpu():
    c = cfg(PV + 'vcpus = 3\ncpus = [ "0", "2-3" ]\n')
    assert c.cpus == ("0", "2-3")
    assert c.hard_affinity(4) == [frozenset({0}), frozenset({2, 3}), frozenset(range(4))]


def test_cpus_string_applies_to_every_vcpu_at_create_time():
    c = cfg(PV + 'vcpus = 2\ncpus = "0-3,^1"\n')
    assert c.hard_affinity(4) == [frozenset({0, 2, 3})] * 2
    assert c.soft_affinity(4) is None


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        ('"0-"', 'cpus: invalid pcpu range "0-" in "0-"'),
        ('"a"', 'cpus: invalid pcpu range "a" in "a"'),
        ('"3-1"', 'cpus: invalid pcpu range "3-1": start must be <= end'),
        ('"^all"', 'cpus: can\'t combine "^" and "all"'),
        ('"1,,2"', 'cpus: invalid pcpu range "" in "1,,2"'),
    ],
)
def test_cpumap_syntax_errors(spec, msg):
    assert err(PV + f"cpus = {spec}\n") == f"vm.cfg:3:8: {msg}"


def test_cpumap_error_in_list_points_at_the_item():
    assert err(PV + 'cpus = [ "0", "x" ]\n') == 'vm.cfg:3:15: cpus: invalid pcpu range "x" in "x"'


# -- disks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("/dev/vg/guest-volume,,hda", DiskSpec("hda", "/dev/vg/guest-volume")),
        ("/dev/vg/guest-volume,raw,hda,rw", DiskSpec("hda", "/dev/vg/guest-volume")),
        (
            "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
            DiskSpec("hda", "/dev/vg/guest-volume"),
        ),
        ("raw:/dev/vg/guest-volume,hda,w", DiskSpec("hda", "/dev/vg/guest-volume")),
        (
            "/root/image.iso,,hdc,cdrom",
            DiskSpec("hdc", "/root/image.iso", readwrite=False, is_cdrom=True),
        ),
        (
            "/root/image.iso,,hdc,,cdrom",
            DiskSpec("hdc", "/root/image.iso", readwrite=False, is_cdrom=True),
        ),
        (
            "/root/image.iso,raw,hdc,devtype=cdrom",
            DiskSpec("hdc", "/root/image.iso", readwrite=False, is_cdrom=True),
        ),
        (
            "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
            DiskSpec("hdc", "/root/image.iso", readwrite=False, is_cdrom=True),
        ),
        (
            "raw:/root/image.iso,hdc:cdrom,ro",
            DiskSpec("hdc", "/root/image.iso", readwrite=False, is_cdrom=True),
        ),
        ("phy:/dev/vg/x,xvda,w", DiskSpec("xvda", "/dev/vg/x")),
        ("file:/srv/img,hda,r", DiskSpec("hda", "/srv/img", readwrite=False)),
        ("tap:aio:/srv/img,xvdb,w", DiskSpec("xvdb", "/srv/img")),
        ("tap:qcow2:/srv/img.qcow2,xvdb,w", DiskSpec("xvdb", "/srv/img.qcow2", format="qcow2")),
        (
            "iscsi:iqn.2001-05.com.example:t1,xvdc,w",
            DiskSpec("xvdc", "iqn.2001-05.com.example:t1", script="block-iscsi"),
        ),
        (",hdc:cdrom,r", DiskSpec("hdc", "", format="empty", readwrite=False, is_cdrom=True)),
        (
            "vdev=hdc, devtype=cdrom",
            DiskSpec("hdc", None, format="empty", readwrite=False, is_cdrom=True),
        ),
        (
            "/srv/a.qcow2,qcow2,xvda,ro",
            DiskSpec("xvda", "/srv/a.qcow2", format="qcow2", readwrite=False),
        ),
        (
            "vdev=xvda, backendtype=qdisk, format=vhd, target=/srv/a.vhd",
            DiskSpec("xvda", "/srv/a.vhd", format="vhd", backendtype="qdisk"),
        ),
        (
            "vdev=xvda, backendtype=phy, script=block-drbd, target=res0",
            DiskSpec("xvda", "res0", backendtype="phy", script="block-drbd"),
        ),
        (
            "vdev=xvda, access=w, target=/path/with,commas,inside",
            DiskSpec("xvda", "/path/with,commas,inside"),
        ),
        (
            "/srv/a,,xvda,,direct-io-safe,no-discard",
            DiskSpec("xvda", "/srv/a", direct_io_safe=True, discard=False),
        ),
        ("backend=driverdom, /srv/a,,xvda", DiskSpec("xvda", "/srv/a", backend="driverdom")),
        ("cdromx,,xvda", DiskSpec("xvda", "cdromx")),  # longer positional beats the flag
    ],
)
def test_diskspec_forms(spec, want):
    assert parse_diskspec(spec) == want


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        ("/x,qcow3,xvda", "unknown value for format: near `qcow3'"),
        ("/x,raw", "no vdev specified"),
        ("/x,raw,xvda,rw,extra", "too many positional parameters: near `extra'"),
        ("/x,,xvda,rx", "unknown value for access: near `rx'"),
        ("vdev=xvda, colour=red, target=/x", "unknown parameter: near `colour=red,'"),
        ("vdev=xvda", "no target specified (and device not removable)"),
        ("foo:/x,xvda,w", "unknown deprecated disk prefix: near `foo:/x,xvda,w'"),
        ("vdev=a, vdev=b, target=/x", "vdev respecified: near `b'"),
        ("/x,,xvda,,backendtype=nbd", "unknown value for backendtype: near `nbd'"),
    ],
)
def test_diskspec_errors(spec, msg):
    with pytest.raises(DiskSpecError) as info:
        parse_diskspec(spec)
    assert str(info.value) == msg


def test_disk_error_is_located_at_the_list_item():
    assert err(PV + 'disk = [ "/a,,xvda",\n  "/b,qcow3,xvdb" ]\n') == (
        "vm.cfg:4:3: disk: config parsing error in disk specification: "
        "unknown value for format: near `qcow3' in `/b,qcow3,xvdb'"
    )


def test_disks_in_a_config_keep_their_order():
    c = cfg(PV + 'disk = [ "/a,,xvda", "/b,,xvdb" ]\n')
    assert [d.vdev for d in c.disks] == ["xvda", "xvdb"]
    assert c.disks[0].access == "rw"


# -- vifs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "bps", "interval_us"),
    [
        ("10Mb/s", 1_250_000, 50_000),  # bits: divided by 8; default interval 50 ms
        ("1MB/s@20ms", 1_000_000, 20_000),
        ("100Kb/s@5000us", 12_500, 5_000),
        ("1GB/s@1s", 1_000_000_000, 1_000_000),
        ("5B/s@2", 5, 2_000_000),  # a bare interval is in seconds
        ("800b/s", 100, 50_000),
    ],
)
def test_vif_rate(rate, bps, interval_us):
    assert parse_vif_rate(rate) == (bps, interval_us)


@pytest.mark.parametrize(
    "rate", ["10Mbit/s", "fast", "0Mb/s", "10Mb/s@", "10Mb/s@0ms", "@20ms", "10mb/s"]
)
def test_vif_bad_rate_is_an_error_in_the_config(rate):
    msg = err(PV + f'vif = [ "rate={rate}" ]\n')
    assert msg.startswith("vm.cfg:3:9: vif: config parsing error in vif specification: ")
    assert f"in `rate={rate}'" in msg


def test_vif_all_keys():
    vif, warnings = parse_vifspec(
        "mac=00:16:3E:0:0:1, bridge=xenbr1, ip=10.0.0.2, model=e1000, type=ioemu, "
        "rate=10Mb/s@20ms, backend=netdom, vifname=web0, script=vif-route, gatewaydev=eth0"
    )
    assert vif == VifSpec(
        mac="00:16:3e:00:00:01",
        bridge="xenbr1",
        ip="10.0.0.2",
        model="e1000",
        type="ioemu",
        rate="10Mb/s@20ms",
        rate_bytes_per_sec=1_250_000,
        rate_interval_us=20_000,
        backend="netdom",
        vifname="web0",
        script="vif-route",
        gatewaydev="eth0",
    )
    assert warnings == []


def test_vif_defaults():
    assert parse_vifspec("") == (VifSpec(), [])
    assert (VifSpec().bridge, VifSpec().script, VifSpec().mac) == ("xenbr0", "vif-bridge", None)


@pytest.mark.parametrize("model", NIC_MODELS)
def test_vif_known_models_do_not_warn(model):
    assert parse_vifspec(f"model={model}")[1] == []


def test_vif_unknown_key_and_model_warn_like_xl():
    c = cfg(PV + 'vif = [ "bridge=br0,colour=red,model=tulip" ]\n')
    assert c.vifs[0].bridge == "br0"
    assert c.warnings == (
        "vm.cfg:3: warning: vif: unknown key `colour' ignored",
        (
            "vm.cfg:3: warning: vif: model `tulip' is not one QEMU emulates "
            "(rtl8139, e1000, ne2k_pci, pcnet, virtio-net, i82551, i82557b, i82559er)"
        ),
    )


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("type=netfront", "Invalid parameter `type'"),
        ("mac=00:16:3e:00:00", "Invalid parameter `mac'"),
        ("mac=00:16:3e:00:00:zz", "Invalid parameter `mac'"),
    ],
)
def test_vif_errors(spec, fragment):
    assert fragment in err(PV + f'vif = [ "{spec}" ]\n')


# -- other keys ---------------------------------------------------------------------


def test_serial_and_viridian_take_a_string_or_a_list():
    c = cfg('name = "h"\ntype = "hvm"\nserial = "pty"\nviridian = 1\n')
    assert (c.serial, c.viridian) == ("pty", True)
    c = cfg(
        'name = "h"\ntype = "hvm"\nserial = [ "pty", "file:/tmp/s" ]\n'
        'viridian = [ "defaults", "!time_ref_count" ]\n'
    )
    assert c.serial == ("pty", "file:/tmp/s")
    assert c.viridian == ("defaults", "!time_ref_count")


def test_pci_workload_pool_kept():
    c = cfg(
        PV + 'pci = [ "01:00.0", "02:00.1,permissive=1" ]\nworkload = "duty:busy_ms=5,idle_ms=20"\n'
        'pool = "rt-pool"\n'
    )
    assert c.pci == ("01:00.0", "02:00.1,permissive=1")
    assert c.workload == "duty:busy_ms=5,idle_ms=20"
    assert c.pool == "rt-pool"


def test_unknown_keys_are_kept_with_warnings():
    c = cfg(PV + 'frobnicate = [ 1, 2 ]\nseclabel = "6b3e"\n')
    assert c.extra_keys == (
        ("frobnicate", ListValue((Atom("1", "number"), Atom("2", "number")))),
        ("seclabel", Atom("6b3e", "string")),
    )
    assert c.warnings == (
        "vm.cfg:3: warning: unknown parameter `frobnicate' (kept in extra_keys)",
        "vm.cfg:4: warning: parameter `seclabel' is read by xl but ignored by xensim",
    )


# -- overrides, files, output --------------------------------------------------------


def test_overrides_come_after_the_file(tmp_path):
    path = tmp_path / "vm.cfg"
    path.write_text(PV + "memory = 256\ndisk = [ '/a,,xvda' ]\n")
    c = DomainConfig.from_file(path, ["memory=1024", 'disk += [ "/b,,xvdb" ]', 'name="g2"'])
    assert (c.memory, c.name) == (1024, "g2")
    assert [d.vdev for d in c.disks] == ["xvda", "xvdb"]
    assert c.source == str(path)


def test_override_errors_name_the_command_line(tmp_path):
    path = tmp_path / "vm.cfg"
    path.write_text(PV)
    with pytest.raises(XlCfgError) as info:
        DomainConfig.from_file(path, ["vcpus=2", "memory=lots"])
    assert str(info.value) == (
        f"{COMMAND_LINE}:2:8: config parsing error near `lots': syntax error, "
        "unexpected identifier, expecting string or number or `['"
    )
    with pytest.raises(XlCfgError) as info:
        DomainConfig.from_file(path, ['memory="lots"'])
    assert str(info.value) == (
        f'{COMMAND_LINE}:1:8: memory: expected an integer (MiB), got string "lots"'
    )


def test_to_dict_is_json_and_complete():
    c = cfg(
        PV + 'disk = [ "/a,,xvda" ]\nvif = [ "rate=1MB/s" ]\nextra_thing = [ "x", [ 1 ] ]\n'
        'cpus = [ "0", "1" ]\n'
    )
    d = json.loads(json.dumps(c.to_dict()))
    assert d["name"] == "g" and d["memory"] == 32 and d["cpus"] == ["0", "1"]
    assert d["disks"][0]["vdev"] == "xvda" and d["disks"][0]["access"] == "rw"
    assert d["vifs"][0]["rate_bytes_per_sec"] == 1_000_000
    assert d["extra_keys"] == {"extra_thing": ["x", ["1"]]}
    assert "warnings" not in d


def test_equality_ignores_source_and_warnings():
    a = cfg(PV + "colour = 1\n", "a.cfg")
    b = cfg(PV + "colour = 1\n", "b.cfg")
    assert a == b and a.source != b.source and a.warnings != b.warnings


# -- shipped configs ------------------------------------------------------------------

SHIPPED = {
    "pv-guest.cfg": ("pv", "idle"),
    "hvm-guest.cfg": ("hvm", "idle"),
    "pvh-guest.cfg": ("pvh", "idle"),
    "cpu-hog.cfg": ("pv", "cpu"),
    "web-server.cfg": ("pv", "web:rate=200"),
    "latency-sensitive.cfg": ("pv", "ping:rate=100"),
    "rt-periodic.cfg": ("pv", "periodic:period_ms=10,wcet_ms=2"),
}


def test_every_shipped_config_is_tested():
    assert sorted(p.name for p in CONFIGS.glob("*.cfg")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_config_parses_cleanly_and_round_trips(name):
    c = DomainConfig.from_file(CONFIGS / name)
    assert (c.type, c.workload) == SHIPPED[name]
    assert c.name == name.removesuffix(".cfg")
    assert c.warnings == ()
    assert DomainConfig.from_text(c.to_xlcfg(), "round.cfg") == c


def test_shipped_configs_have_the_promised_shapes():
    pv = DomainConfig.from_file(CONFIGS / "pv-guest.cfg")
    assert (pv.vcpus, pv.memory, len(pv.disks), len(pv.vifs)) == (2, 512, 1, 1)
    hvm = DomainConfig.from_file(CONFIGS / "hvm-guest.cfg")
    assert hvm.disks[0].vdev == "hda" and hvm.vifs[0].model == "e1000"
    assert (hvm.serial, hvm.vnc) == ("pty", True)
    ls = DomainConfig.from_file(CONFIGS / "latency-sensitive.cfg")
    assert ls.cpu_weight > DEFAULTS["cpu_weight"]


def test_every_shipped_config_comments_its_keys():
    """xlexample style: each setting sits in a paragraph that opens with a comment."""
    for path in CONFIGS.glob("*.cfg"):
        paragraph_has_comment = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                paragraph_has_comment = False
            elif line.startswith("#"):
                paragraph_has_comment = True
            elif re.match(r"[a-z_]+ *\+?=", line):
                assert paragraph_has_comment, f"{path.name}:{n}: uncommented `{line}'"


# -- round trip property ---------------------------------------------------------------


def _q(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_text = st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FF), max_size=12)
_path = st.from_regex(r"/[a-z0-9/._-]{1,16}", fullmatch=True)
_vdev = st.from_regex(r"(xvd|hd|sd)[a-z]", fullmatch=True)
_cpumap = st.from_regex(r"\^?(nodes:)?[0-4]?[0-9](-[5-9][0-9])?", fullmatch=True)


@st.composite
def _disk(draw) -> str:
    vdev, target = draw(_vdev), draw(_path)
    fmt = draw(st.sampled_from(["", "raw", "qcow", "qcow2", "vhd", "qed"]))
    access = draw(st.sampled_from(["", "r", "w", "ro", "rw"]))
    form = draw(st.integers(0, 3))
    if form == 0:
        return f"{target},{fmt},{vdev},{access}"
    if form == 1:
        extra = draw(st.sampled_from(["", "devtype=cdrom, ", "backendtype=qdisk, ", "discard, "]))
        return (
            f"format={fmt or 'raw'}, vdev={vdev}, {extra}access={access or 'rw'}, target={target}"
        )
    if form == 2:
        prefix = draw(st.sampled_from(["phy", "file", "tap:aio", "raw", "qcow2"]))
        return f"{prefix}:{target},{vdev},{access or 'w'}"
    return f",{vdev}:cdrom,r"


@st.composite
def _vif(draw) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append("mac=" + draw(st.from_regex(r"00:16:3e(:[0-9a-f]{2}){3}", fullmatch=True)))
    if draw(st.booleans()):
        parts.append("bridge=" + draw(st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)))
    if draw(st.booleans()):
        parts.append("model=" + draw(st.sampled_from(NIC_MODELS)))
    if draw(st.booleans()):
        parts.append("type=" + draw(st.sampled_from(["vif", "ioemu"])))
    if draw(st.booleans()):
        parts.append(
            "rate="
            + draw(
                st.from_regex(
                    r"[1-9][0-9]{0,3}[GMK]?[Bb]/s(@[1-9][0-9]{0,2}(ms|us|s)?)?", fullmatch=True
                )
            )
        )
    if draw(st.booleans()):
        parts.append("ip=10.0.0." + str(draw(st.integers(1, 254))))
    return ", ".join(parts)


@st.composite
def config_text(draw) -> str:
    dtype = draw(st.sampled_from(["pv", "pvh", "hvm"]))
    memory = draw(st.integers(1, 1 << 20))
    vcpus = draw(st.integers(1, 64))
    lines = [
        f"name = {_q(draw(_text.filter(bool)))}",
        f'type = "{dtype}"',
        f"memory = {memory}",
        f"vcpus = {vcpus}",
    ]
    if dtype != "hvm" or draw(st.booleans()):
        lines.append(f"kernel = {_q(draw(_text))}")
    opt = {
        "maxmem": lambda: str(memory + draw(st.integers(0, 4096))),
        "maxvcpus": lambda: str(vcpus + draw(st.integers(0, 64))),
        "cpu_weight": lambda: str(draw(st.integers(1, 65535))),
        "cap": lambda: hex(draw(st.integers(0, 800))),
        "pool": lambda: _q(draw(_text)),
        "cmdline": lambda: _q(draw(_text)),
        "root": lambda: _q(draw(_text)),
        "extra": lambda: _q(draw(_text)),
        "ramdisk": lambda: _q(draw(_text)),
        "cpus": lambda: draw(
            st.one_of(
                _cpumap.map(_q),
                st.lists(_cpumap.map(_q), max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
            )
        ),
        "cpus_soft": lambda: _q(draw(_cpumap)),
        "disk": lambda: "[" + ", ".join(_q(d) for d in draw(st.lists(_disk(), max_size=3))) + "]",
        "vif": lambda: "[" + ", ".join(_q(v) for v in draw(st.lists(_vif(), max_size=3))) + "]",
        "on_crash": lambda: _q(draw(st.sampled_from(["destroy", "restart", "preserve"]))),
        "serial": lambda: draw(st.sampled_from(['"pty"', '[ "pty", "vc" ]'])),
        "viridian": lambda: draw(st.sampled_from(["0", "1", '[ "all" ]'])),
        "hap": lambda: draw(st.sampled_from(["0", "1"])),
        "vnc": lambda: draw(st.sampled_from(["0", "1"])),
        "boot": lambda: _q(draw(st.sampled_from(["c", "d", "cd", "n"]))),
        "pci": lambda: '[ "01:00.0" ]',
        "workload": lambda: _q(draw(st.sampled_from(["cpu", "web:rate=200", "idle"]))),
        "device_model_version": lambda: '"qemu-xen-traditional"',
        "unknown_knob": lambda: draw(st.sampled_from(['"x"', "7", '[ "a", [ 1 ] ]'])),
    }
    for key in draw(st.lists(st.sampled_from(sorted(opt)), unique=True)):
        lines.append(f"{key} = {opt[key]()}")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(config_text())
def test_round_trip_parse_to_xlcfg_parse(text):
    c = DomainConfig.from_text(text, "gen.cfg")
    again = DomainConfig.from_text(c.to_xlcfg(), "again.cfg")
    assert again == c
    assert again.to_dict() == c.to_dict()


_DISK_PIECES = [
    *"abcdrwx:/=,- \t019",
    "cdrom",
    "target=",
    "vdev=",
    "phy:",
    "format=",
    "access=",
    "devtype=",
    "qcow2",
    "hdc",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_DISK_PIECES), max_size=12).map("".join))
def test_any_diskspec_parses_or_raises_diskspecerror(spec):
    try:
        disk = parse_diskspec(spec)
    except DiskSpecError:
        return
    assert disk.vdev and (disk.target is not None or disk.is_cdrom)
    assert parse_diskspec(disk.to_spec()) == disk
