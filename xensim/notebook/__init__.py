"""What xensim shows in a Jupyter notebook: HTML tables for a host, its domains and a run's
metrics, xl's answers as a terminal would print them, and a progress bar for long runs.

Nothing here runs the simulation; it only presents it.  The hooks are ``_repr_html_``
methods (Jupyter calls them) on :class:`~xensim.host.Host`, on
:class:`~xensim.notebook.display.Metrics` (what ``host.metrics()`` returns) and on
:class:`~xensim.notebook.display.XlResult` (what ``host.xl()`` returns); domains get theirs
through IPython's formatter registry (:func:`~xensim.notebook.display.register_formatters`)
so the hypervisor layer stays free of presentation code.
"""
