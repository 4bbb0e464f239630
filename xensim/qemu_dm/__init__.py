"""Device models for HVM guests (one per domain), serving ioreqs forwarded by Xen."""
