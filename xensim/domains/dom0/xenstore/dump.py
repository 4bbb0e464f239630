"""``xenstore-ls`` output: the tree below a path, one node per line.

Mirrors: tools/xenstore/xenstore_client.c (do_ls); simplified: no -f/-s.
Each level indents by one space; ``-p`` appends the permissions as
``(n0,r1)``.  Values are shown quoted, as xenstore-ls does.
"""

from __future__ import annotations

from xensim.domains.dom0.xenstore.nodes import child_path
from xensim.domains.dom0.xenstore.store import XenStore


def xenstore_ls(store: XenStore, path: str = "/", show_perms: bool = False) -> str:
    out: list[str] = []

    def walk(p: str, depth: int) -> None:
        node = store.db.nodes[p]
        for c in node.children:
            child = store.db.nodes[child_path(p, c)]
            line = f'{" " * depth}{c} = "{child.value}"'
            if show_perms:
                line += " (" + ",".join(str(x) for x in child.perms) + ")"
            out.append(line)
            walk(child.path, depth + 1)

    walk(path, 0)
    return "\n".join(out) + ("\n" if out else "")
