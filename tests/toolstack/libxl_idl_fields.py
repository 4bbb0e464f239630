"""The field names of the libxl structs xensim prints, in libxl_types.idl's order.

Taken from xen tools/libs/light/libxl_types.idl at RELEASE-4.19.0 (the keyed union ``u``
of libxl_domain_build_info is written ``type.hvm``/``type.pv``/``type.pvh`` by the
generated JSON).  Tests check ``xl list -l`` and ``xl create -n`` against these.
"""

IDL_FIELDS: dict[str, list[str]] = {
    "domain_config": [
        "c_info", "b_info", "disks", "nics", "pcidevs", "rdms", "dtdevs", "vfbs", "vkbs",
        "virtios", "vtpms", "p9s", "pvcallsifs", "vdispls", "vsnds", "channels", "usbctrls",
        "usbdevs", "on_poweroff", "on_reboot", "on_watchdog", "on_crash", "on_soft_reset",
    ],
    "c_info": [
        "type", "hap", "oos", "ssidref", "ssid_label", "name", "domid", "uuid", "xsdata",
        "platformdata", "poolid", "pool_name", "run_hotplug_scripts", "driver_domain",
        "passthrough", "xend_suspend_evtchn_compat",
    ],
    "b_info": [
        "max_vcpus", "avail_vcpus", "cpumap", "nodemap", "vcpu_hard_affinity",
        "vcpu_soft_affinity", "numa_placement", "tsc_mode", "max_memkb", "target_memkb",
        "video_memkb", "shadow_memkb", "iommu_memkb", "rtc_timeoffset", "exec_ssidref",
        "exec_ssid_label", "localtime", "disable_migrate", "cpuid", "blkdev_start", "vnuma_nodes",
        "max_grant_frames", "max_maptrack_frames", "max_grant_version", "device_model_version",
        "device_model_stubdomain", "stubdomain_memkb", "stubdomain_kernel", "stubdomain_cmdline",
        "stubdomain_ramdisk", "device_model", "device_model_ssidref", "device_model_ssid_label",
        "device_model_user", "extra", "extra_pv", "extra_hvm", "sched_params", "ioports", "irqs",
        "iomem", "claim_mode", "event_channels", "kernel", "cmdline", "ramdisk", "device_tree",
        "acpi", "bootloader", "bootloader_args", "bootloader_restrict", "bootloader_user",
        "timer_mode", "nested_hvm", "apic", "dm_restrict", "tee", "type.hvm", "type.pv",
        "type.pvh", "arch_arm", "arch_x86", "altp2m", "vmtrace_buf_kb", "vpmu",
    ],
    "sched_params": [
        "sched", "weight", "cap", "period", "budget", "extratime", "slice", "latency",
    ],
    "disk": [
        "backend_domid", "backend_domname", "pdev_path", "vdev", "backend", "format", "script",
        "removable", "readwrite", "is_cdrom", "direct_io_safe", "discard_enable", "specification",
        "transport", "irq", "base", "colo_enable", "colo_restore_enable", "colo_host", "colo_port",
        "colo_export", "active_disk", "hidden_disk", "trusted", "grant_usage",
    ],
    "nic": [
        "backend_domid", "backend_domname", "devid", "mtu", "vlan", "model", "mac", "ip", "bridge",
        "ifname", "script", "nictype", "rate_bytes_per_interval", "rate_interval_usecs",
        "gatewaydev", "coloft_forwarddev", "colo_sock_mirror_id", "colo_sock_mirror_ip",
        "colo_sock_mirror_port", "colo_sock_compare_pri_in_id", "colo_sock_compare_pri_in_ip",
        "colo_sock_compare_pri_in_port", "colo_sock_compare_sec_in_id",
        "colo_sock_compare_sec_in_ip", "colo_sock_compare_sec_in_port",
        "colo_sock_compare_notify_id", "colo_sock_compare_notify_ip",
        "colo_sock_compare_notify_port", "colo_sock_redirector0_id", "colo_sock_redirector0_ip",
        "colo_sock_redirector0_port", "colo_sock_redirector1_id", "colo_sock_redirector1_ip",
        "colo_sock_redirector1_port", "colo_sock_redirector2_id", "colo_sock_redirector2_ip",
        "colo_sock_redirector2_port", "colo_filter_mirror_queue", "colo_filter_mirror_outdev",
        "colo_filter_redirector0_queue", "colo_filter_redirector0_indev",
        "colo_filter_redirector0_outdev", "colo_filter_redirector1_queue",
        "colo_filter_redirector1_indev", "colo_filter_redirector1_outdev", "colo_compare_pri_in",
        "colo_compare_sec_in", "colo_compare_out", "colo_compare_notify_dev",
        "colo_sock_sec_redirector0_id", "colo_sock_sec_redirector0_ip",
        "colo_sock_sec_redirector0_port", "colo_sock_sec_redirector1_id",
        "colo_sock_sec_redirector1_ip", "colo_sock_sec_redirector1_port",
        "colo_filter_sec_redirector0_queue", "colo_filter_sec_redirector0_indev",
        "colo_filter_sec_redirector0_outdev", "colo_filter_sec_redirector1_queue",
        "colo_filter_sec_redirector1_indev", "colo_filter_sec_redirector1_outdev",
        "colo_filter_sec_rewriter0_queue", "colo_checkpoint_host", "colo_checkpoint_port",
        "trusted",
    ],
    "vnc": [
        "enable", "listen", "passwd", "display", "findunused",
    ],
    "sdl": [
        "enable", "opengl", "display", "xauthority",
    ],
    "vga": [
        "kind",
    ],
    "type.hvm": [
        "firmware", "bios", "pae", "apic", "acpi", "acpi_s3", "acpi_s4", "acpi_laptop_slate", "nx",
        "viridian", "viridian_enable", "viridian_disable", "timeoffset", "hpet", "vpt_align",
        "mmio_hole_memkb", "timer_mode", "nested_hvm", "altp2m", "system_firmware",
        "smbios_firmware", "smbios", "acpi_firmware", "hdtype", "nographic", "vga", "vnc",
        "keymap", "sdl", "spice", "gfx_passthru", "gfx_passthru_kind", "serial", "boot", "usb",
        "usbversion", "usbdevice", "vkb_device", "soundhw", "xen_platform_pci", "usbdevice_list",
        "vendor_device", "ms_vm_genid", "serial_list", "rdm", "rdm_mem_boundary_memkb", "mca_caps",
        "pirq",
    ],
    "type.pv": [
        "kernel", "slack_memkb", "bootloader", "bootloader_args", "cmdline", "ramdisk", "features",
        "e820_host",
    ],
    "type.pvh": [
        "pvshim", "pvshim_path", "pvshim_cmdline", "pvshim_extra",
    ],
    "arch_arm": [
        "gic_version", "vuart", "sve_vl", "nr_spis",
    ],
    "arch_x86": [
        "msr_relaxed",
    ],
}
