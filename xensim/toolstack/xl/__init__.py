"""The ``xl`` command: a command table (as tools/xl/xl_cmdtable.c) and topic modules."""
