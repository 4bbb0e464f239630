"""The keys real xl reads from a domain config, and which of them xensim models.

Mirrors: tools/xl/xl_parse.c (4.19) ``parse_config_data``: every key named in an
``xlu_cfg_get_*`` or ``xlu_cfg_replace_string`` call (163 keys).  libxlu stores
whatever a file sets and xl only asks for these, so a key outside this list is
ignored silently by real xl, and so it is here.  A key xl reads but xensim does not
model is accepted silently too; ``xl -v create`` names both kinds.
"""

from __future__ import annotations

__all__ = ["XL_KEYS"]

XL_KEYS = frozenset(
    (
        "acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m",
        "altp2mhvm", "apic", "bios", "bios_path_override", "boot", "bootloader",
        "bootloader_args", "bootloader_restrict", "bootloader_user", "builder", "cap",
        "channel", "cmdline", "cpu_weight", "cpuid", "cpus", "cpus_soft", "device_model",
        "device_model_args", "device_model_override", "device_model_stubdomain_override",
        "device_model_stubdomain_seclabel", "device_model_user", "device_model_version",
        "device_tree", "disk", "display", "dm_restrict", "driver_domain", "dtdev", "e820_host",
        "extra", "extratime", "firmware", "firmware_override", "gfx_passthru", "gic_version",
        "hap", "hdtype", "hpet", "hvm_pirq", "init_seclabel", "iomem", "ioports", "irqs",
        "kernel", "keymap", "latency", "localtime", "max_event_channels", "max_grant_frames",
        "max_grant_version", "max_maptrack_frames", "maxmem", "maxvcpus", "mca_caps", "memory",
        "mmio_hole", "ms_vm_genid", "msr_relaxed", "name", "nestedhvm", "nographic",
        "nomigrate", "nr_spis", "nx", "on_crash", "on_poweroff", "on_reboot", "on_soft_reset",
        "on_watchdog", "oos", "opengl", "p9", "pae", "passthrough", "pci", "pci_msitranslate",
        "pci_permissive", "pci_power_mgmt", "pci_seize", "period", "pool", "pvcalls", "pvshim",
        "pvshim_cmdline", "pvshim_extra", "pvshim_path", "ramdisk", "rdm", "rdm_mem_boundary",
        "root", "rtc_timeoffset", "sdl", "seclabel", "serial", "shadow_memory", "slice",
        "smbios", "smbios_firmware", "soundhw", "spice", "spice_clipboard_sharing",
        "spice_image_compression", "spice_streaming_video", "spiceagent_mouse",
        "spicedisable_ticketing", "spicehost", "spicepasswd", "spiceport", "spicetls_port",
        "spiceusbredirection", "spicevdagent", "stdvga", "stubdomain_cmdline",
        "stubdomain_kernel", "stubdomain_memory", "stubdomain_ramdisk", "sve", "tee",
        "timer_mode", "tsc_mode", "type", "usb", "usbctrl", "usbdev", "usbdevice", "usbversion",
        "uuid", "vcpus", "vdispl", "vendor_device", "vfb", "vga", "videoram", "vif", "vif2",
        "viridian", "virtio", "vkb", "vkb_device", "vmtrace_buf_kb", "vnc", "vncdisplay",
        "vnclisten", "vncpasswd", "vncunused", "vncviewer", "vnuma", "vpmu", "vpt_align",
        "vsnd", "vtpm", "vuart", "xauthority", "xen_platform_pci", "xend_suspend_evtchn_compat"
    )
)
"""Every key xl 4.19's ``parse_config_data`` reads."""
