"""The split-driver protocol both ends speak: shared rings, XenbusState negotiation, the
xenbus buses, and netif/blkif front and back ends."""
