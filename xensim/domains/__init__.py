"""Guest-OS models: what runs on a domain's vCPUs (workloads, kernels, dom0 services)."""
