"""The scheduler researcher's workflow: trace files, summaries, timelines, plots, sweeps.

Everything here runs *after* (or around) a simulation and never inside the
hot path: the hypervisor only appends :class:`~xensim.hypervisor.trace.TraceRecord`
tuples, and these modules turn them into files (:mod:`.tracefile`),
xenalyze-like tables (:mod:`.summary`), Perfetto timelines (:mod:`.perfetto`),
plots (:mod:`.plots`, needs the ``plot`` extra) and parameter sweeps
(:mod:`.sweep`, Dask support needs the ``sweep`` extra).
"""
