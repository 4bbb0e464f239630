"""The guest OS: its kernel, what a vCPU runs, what each action costs per mode, workloads,
the balloon, and drivers for emulated and passed-through devices."""
