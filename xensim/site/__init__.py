"""Several hosts in one simulation: :class:`Site` and the :class:`Link`\\ s between hosts."""

from xensim.site.link import Link
from xensim.site.site import Site, SiteError

__all__ = ["Link", "Site", "SiteError"]
