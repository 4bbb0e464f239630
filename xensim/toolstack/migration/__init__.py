"""Live migration (``xl migrate``): libxc's pre-copy over a site's link, see :mod:`.precopy`."""

from xensim.toolstack.migration.precopy import Migration, MigrationFailed, start_migration

__all__ = ["Migration", "MigrationFailed", "start_migration"]
