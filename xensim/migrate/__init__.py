"""Live-migration experiments: ``xensim migrate-sweep``, its table and chart."""
