"""Domain-0's services: xenstored and its tree, backends on dom0's vCPUs, the host's I/O
system, its physical devices and bridges."""
