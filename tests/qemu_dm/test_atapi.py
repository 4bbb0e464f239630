"""The emulated CD-ROM: ATAPI packets, media state, and xl cd-insert / cd-eject."""

from __future__ import annotations

from pathlib import Path

import pytest

from xensim.host import Host
from xensim.hypervisor.hvm.ioreq import IOREQ_READ, IOREQ_TYPE_PIO, IOREQ_WRITE, Ioreq
from xensim.qemu_dm import atapi
from xensim.qemu_dm.atapi import AtapiCdrom

CFG = 'name="h"\ntype="hvm"\nmemory=256\ndisk=["/img/h.img,raw,hda,rw", "{cd}"]\n'


def _hvm(tmp_path: Path, cd: str = ",hdc:cdrom,r", **extra: str) -> tuple[Host, AtapiCdrom]:
    host = Host(pcpus=2, seed=1)
    text = CFG.format(cd=cd) + "".join(f"{k}={v}\n" for k, v in extra.items())
    cfg = tmp_path / "h.cfg"
    cfg.write_text(text)
    rc, _, err = host.xl(f"create {cfg}")
    assert rc == 0, err
    host.run(ms=20)
    drive = host.domain("h").info["device_model"].cdroms[0]
    return host, drive


def _io(drive: AtapiCdrom, addr: int, write: bool, data: int = 0, size: int = 1) -> int:
    ans = drive.access(Ioreq(IOREQ_TYPE_PIO, addr, size, IOREQ_WRITE if write else IOREQ_READ,
                             data))
    if ans.effect is not None:
        ans.effect()
    return ans.value


def _packet(host: Host, drive: AtapiCdrom, cdb: bytes) -> tuple[int, int, bytes]:
    """Issue one PACKET command; returns (status, error register, data read back)."""
    _io(drive, atapi.CMD_BASE + 7, True, atapi.WIN_PACKET)
    assert _io(drive, atapi.CMD_BASE + 7, False) & atapi.ST_DRQ  # ready for the packet
    cdb = cdb.ljust(12, b"\0")
    for i in range(0, 12, 2):
        _io(drive, atapi.CMD_BASE, True, int.from_bytes(cdb[i:i + 2], "little"), size=2)
    host.run(ms=5)  # a READ goes to the disk image through qemu
    data = b""
    while _io(drive, atapi.CMD_BASE + 7, False) & atapi.ST_DRQ:
        data += _io(drive, atapi.CMD_BASE, False, size=2).to_bytes(2, "little")
    return _io(drive, atapi.CMD_BASE + 7, False), _io(drive, atapi.CMD_BASE + 1, False), data


def _sense(host: Host, drive: AtapiCdrom) -> tuple[int, int]:
    _, _, data = _packet(host, drive, bytes([atapi.REQUEST_SENSE, 0, 0, 0, 18]))
    return data[2], data[12]


def test_an_empty_drive_reports_medium_not_present(tmp_path: Path) -> None:
    host, drive = _hvm(tmp_path)
    status, error, _ = _packet(host, drive, bytes([atapi.TEST_UNIT_READY]))
    assert status & atapi.ST_ERR and error >> 4 == atapi.NOT_READY
    assert _sense(host, drive) == (atapi.NOT_READY, atapi.ASC_MEDIUM_NOT_PRESENT)


def test_cd_insert_gives_unit_attention_once_then_reads(tmp_path: Path) -> None:
    host, drive = _hvm(tmp_path)
    iso = tmp_path / "debian.iso"
    iso.write_bytes(b"CD001")
    rc, out, err = host.xl(f"cd-insert h hdc {iso}")
    assert (rc, out, err) == (0, "", "")
    assert drive.media == str(iso)
    status, error, _ = _packet(host, drive, bytes([atapi.TEST_UNIT_READY]))
    assert error >> 4 == atapi.UNIT_ATTENTION
    assert _sense(host, drive) == (atapi.UNIT_ATTENTION, atapi.ASC_MEDIUM_MAY_HAVE_CHANGED)
    status, error, _ = _packet(host, drive, bytes([atapi.TEST_UNIT_READY]))
    assert not status & atapi.ST_ERR  # the second time the disc is just there
    status, _, data = _packet(host, drive, bytes([atapi.READ_10, 0, 0, 0, 0, 16, 0, 0, 1]))
    assert len(data) == atapi.CD_BLOCK and drive.reads == 1 and not status & atapi.ST_ERR
    # the stored config and xl list -l now name the image
    disks = host.domain("h").info["config"].disks
    assert [d.target for d in disks if d.is_cdrom] == [str(iso)]
    assert f'"pdev_path": "{iso}"' in host.xl("list -l")[1]


def test_cd_eject_empties_the_drive(tmp_path: Path) -> None:
    host, drive = _hvm(tmp_path, cd="/isos/boot.iso,raw,hdc,r,devtype=cdrom")
    assert drive.media == "/isos/boot.iso"
    assert host.xl("cd-eject h hdc")[0] == 0
    assert drive.media is None
    _, error, _ = _packet(host, drive, bytes([atapi.TEST_UNIT_READY]))
    assert error >> 4 == atapi.NOT_READY


def test_guest_eject_is_refused_while_locked_then_empties_the_config(tmp_path: Path) -> None:
    host, drive = _hvm(tmp_path, cd="/isos/boot.iso,raw,hdc,r,devtype=cdrom")
    _packet(host, drive, bytes([atapi.PREVENT_ALLOW, 0, 0, 0, 1]))
    _, error, _ = _packet(host, drive, bytes([atapi.START_STOP_UNIT, 0, 0, 0, 2]))
    assert error >> 4 == atapi.ILLEGAL_REQUEST and drive.media == "/isos/boot.iso"
    _packet(host, drive, bytes([atapi.PREVENT_ALLOW, 0, 0, 0, 0]))
    status, _, _ = _packet(host, drive, bytes([atapi.START_STOP_UNIT, 0, 0, 0, 2]))
    assert not status & atapi.ST_ERR and drive.media is None
    cds = [d for d in host.domain("h").info["config"].disks if d.is_cdrom]
    assert cds[0].target is None and cds[0].format == "empty"


@pytest.mark.parametrize(("cmd", "message"), [
    ("cd-insert h hda /etc/hostname", "libxl: error: libxl_disk.c: Domain 1:Virtual device "
                                      "not found\n"),
    ("cd-insert h hdc /nonexistent.iso", "Cannot stat file: /nonexistent.iso\n"),
    ("cd-eject Domain-0 hdc", "libxl: error: libxl_disk.c: Domain 0:cdrom-insert requires an "
                              "HVM domain\n"),
])
def test_cd_errors_are_libxls(tmp_path: Path, cmd: str, message: str) -> None:
    host, _ = _hvm(tmp_path)
    assert host.xl(cmd) == (1, "", message)
