"""Quiet like xl: keys xl reads but xensim does not model, and keys xl never reads,
pass without a word (real xl says nothing about either); ``xl -v create`` names them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xensim.host import Host
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.domconfig_build import _SCALARS, _SPECIAL
from xensim.toolstack.xlcfg import MAX_NESTING, XlCfgError
from xensim.toolstack.xlkeys import XL_KEYS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "xl.md"
PV = 'name = "g"\nkernel = "/boot/vmlinuz"\n'
UNMODELLED = sorted(XL_KEYS - set(_SCALARS) - set(_SPECIAL) - {"device_model"})


def test_every_key_xl_reads_but_xensim_does_not_model_is_accepted_silently():
    # A plain string suits none of them for real, but xensim reads none of them,
    # so no value can draw a warning (device_model is the one xl warns about).
    text = PV + "".join(f'{k} = "x"\n' for k in UNMODELLED)
    cfg = DomainConfig.from_text(text, "all.cfg")
    assert cfg.warnings == ()
    assert [k for k, _ in cfg.extra_keys] == UNMODELLED


def test_keys_xl_never_reads_are_ignored_silently_as_in_xl():
    cfg = DomainConfig.from_text(PV + 'colour = "blue"\nfrobnicate = [ 1, [ 2 ] ]\n', "vm.cfg")
    assert cfg.warnings == ()


def test_xl_create_prints_nothing_for_them_and_verbose_names_them(tmp_path: Path):
    path = tmp_path / "web.cfg"
    path.write_text(PV + 'spicehost = "0.0.0.0"\ncolour = "blue"\n')
    host = Host()
    rc, _, err = host.xl(f"create -n {path}")
    assert rc == 0 and err == f"Parsing config from {path}\n"
    rc, _, err = host.xl(f"-v create -n {path}")
    assert rc == 0
    assert err.splitlines()[1:] == [
        "xensim: read by xl but not modelled (ignored): spicehost",
        "xensim: not read by xl 4.19 (ignored, as xl does): colour",
    ]


def test_docs_list_only_keys_xl_reads_and_every_key_xensim_leaves_out():
    section = DOCS.read_text().split("## Config files", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z][._0-9a-z]*)`", section.split("otherwise ignored:")[1]
                            .split("keys xl does not read")[0]))
    assert listed <= XL_KEYS
    assert set(UNMODELLED) <= listed


def test_a_config_nested_to_the_limit_is_created_and_listed(tmp_path: Path):
    deep = "[" * MAX_NESTING + "]" * MAX_NESTING
    path = tmp_path / "deep.cfg"
    path.write_text(PV + f"frobnicate = {deep}\n")
    host = Host()
    assert host.xl(f"create {path}")[0] == 0
    rc, out, _ = host.xl("list -l")
    # libxl's JSON has no place for a key xl does not know: listing must still work
    assert rc == 0 and json.loads(out)[0]["domid"] == 1


def test_a_5000_character_name_is_refused_before_anything_is_built():
    host = Host()
    before = len(host.hv.domains)
    with pytest.raises(XlCfgError, match="at most 1024 characters"):
        host.create("n" * 5000)
    assert len(host.hv.domains) == before
