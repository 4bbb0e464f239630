"""The hosted kinds (KVM+QEMU, QEMU-TCG): the host Linux's tasks, guest devices, virtio."""
