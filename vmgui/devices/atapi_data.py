"""The data an ATAPI CD-ROM drive answers with: IDENTIFY PACKET DEVICE, sense data,
INQUIRY, READ CAPACITY, READ TOC, GET CONFIGURATION and MODE SENSE pages.

Owns: the byte layouts, built fresh for each call (pure functions of their arguments).
:mod:`vmgui.devices.atapi` decides when each is sent.

References: T13 ATA/ATAPI-6 8.16 (IDENTIFY PACKET DEVICE words); SPC-2 (fixed-format
sense data, standard INQUIRY data); MMC-2 (READ CAPACITY, READ TOC formats 0 and 1 with
LBA or MSF addresses -- MSF = LBA + 150 frames of 1/75 s -- the CD capabilities and
mechanical status page 2Ah, the read error recovery page 01h); MMC-3 5 (GET
CONFIGURATION: feature header, Profile List 0000h, Core 0001h, Removable Medium 0003h;
profile 0008h CD-ROM).
"""

from __future__ import annotations

from vmgui.devices.ata_regs import CD_SECTOR, ata_string, identify_block

MODEL = "VMGUI CD-ROM"
VENDOR = "VMGUI"
FIRMWARE = "1.0"
PROFILE_CD_ROM = 0x0008
LEAD_OUT = 0xAA
CONTROL_DATA_TRACK = 0x14  # ADR 1 (position), control 4 (data track, copy prohibited)
MSF_OFFSET = 150  # LBA 0 is at 00:02:00
SPEED_KBS = 706  # 4x, as reported in the capabilities page
BUFFER_KB = 512
PAGE_ERROR_RECOVERY = 0x01
PAGE_CAPABILITIES = 0x2A
PAGE_ALL = 0x3F


def identify_packet(serial: str, unit: int) -> bytes:
    words = {
        0: 0x85C0,  # ATAPI, CD-ROM (05h), removable, DRQ within 50 us, 12-byte packets
        49: 1 << 9 | 1 << 11,  # LBA, IORDY; no DMA
        53: 0x0003,  # words 64-70 valid
        64: 0x0003,  # PIO modes 3 and 4
        65: 120, 66: 120, 67: 120, 68: 120,
        71: 30, 72: 30,  # bus release and service times (ns), as QEMU's
        80: 0x001E,  # ATA/ATAPI-1 .. 4
        82: 1 << 14 | 1 << 9 | 1 << 4,  # NOP, DEVICE RESET, PACKET
        83: 1 << 14, 84: 1 << 14,
        85: 1 << 14 | 1 << 9 | 1 << 4,
        87: 1 << 14,
        93: 0x4B00 if unit else 0x400B,
    }
    strings = {10: ata_string(serial, 20), 23: ata_string(FIRMWARE, 8),
               27: ata_string(MODEL, 40)}
    return identify_block(words, strings)


def sense_data(key: int, asc: int, ascq: int = 0) -> bytes:
    """18 bytes of fixed-format sense data (current error)."""
    out = bytearray(18)
    out[0] = 0x70 | 0x80  # current error, information field valid
    out[2] = key
    out[7] = 10  # additional length
    out[12], out[13] = asc, ascq
    return bytes(out)


def inquiry() -> bytes:
    out = bytearray(36)
    out[0] = 0x05  # CD/DVD device
    out[1] = 0x80  # removable medium
    out[3] = 0x21  # ATAPI version 2, response data format 1
    out[4] = len(out) - 5
    out[8:16] = VENDOR.encode().ljust(8)
    out[16:32] = MODEL.encode().ljust(16)
    out[32:36] = FIRMWARE.encode().ljust(4)
    return bytes(out)


def capacity(total_sectors: int) -> bytes:
    """READ CAPACITY: the last LBA and the block length, big-endian."""
    return (max(total_sectors - 1, 0).to_bytes(4, "big")
            + CD_SECTOR.to_bytes(4, "big"))


def _address(lba: int, msf: bool) -> bytes:
    if not msf:
        return lba.to_bytes(4, "big")
    frames = lba + MSF_OFFSET
    minutes, rest = divmod(frames, 75 * 60)
    return bytes((0, min(minutes, 0xFF), rest // 75, rest % 75))


def toc(total_sectors: int, msf: bool, start_track: int) -> bytes | None:
    """READ TOC format 0: track 1 (data, from LBA 0) and the lead-out, from
    ``start_track`` on; None when no track starts there (beyond track 1, not AAh)."""
    if start_track > 1 and start_track != LEAD_OUT:
        return None
    body = b""
    if start_track <= 1:
        body += bytes((0, CONTROL_DATA_TRACK, 1, 0)) + _address(0, msf)
    body += bytes((0, CONTROL_DATA_TRACK, LEAD_OUT, 0)) + _address(total_sectors, msf)
    return (len(body) + 2).to_bytes(2, "big") + bytes((1, 1)) + body


def session_info(msf: bool) -> bytes:
    """READ TOC format 1: one complete session, its first track 1 at LBA 0."""
    body = bytes((0, CONTROL_DATA_TRACK, 1, 0)) + _address(0, msf)
    return (len(body) + 2).to_bytes(2, "big") + bytes((1, 1)) + body


def _feature(code: int, flags: int, payload: bytes) -> bytes:
    return code.to_bytes(2, "big") + bytes((flags, len(payload))) + payload


def configuration(has_media: bool, rt: int, start: int) -> bytes:
    """GET CONFIGURATION: the feature header and the features ``rt`` asks for (0: all
    from ``start``, 1: current ones from ``start``, 2: just ``start``)."""
    current = 0x01 if has_media else 0x00
    features = {
        0x0000: _feature(0x0000, 0x03, PROFILE_CD_ROM.to_bytes(2, "big") + bytes((current, 0))),
        0x0001: _feature(0x0001, 0x03, (2).to_bytes(4, "big")),  # core: ATAPI interface
        0x0003: _feature(0x0003, 0x03, bytes((0x29, 0, 0, 0))),  # tray, eject, lockable
    }
    if rt == 2:
        body = features.get(start, b"")
    else:
        body = b"".join(f for code, f in sorted(features.items()) if code >= start)
    profile = PROFILE_CD_ROM if has_media else 0
    header = (len(body) + 4).to_bytes(4, "big") + bytes(2) + profile.to_bytes(2, "big")
    return header + body


def _error_recovery_page() -> bytes:
    return bytes((PAGE_ERROR_RECOVERY, 6, 0x00, 5, 0, 0, 0, 0))  # 5 read retries


def _capabilities_page(locked: bool) -> bytes:
    page = bytearray(20)
    page[0], page[1] = PAGE_CAPABILITIES, len(page) - 2
    page[4] = 0x70  # mode 2 form 1 and 2, multi-session
    page[6] = 0x01 | (0x02 if locked else 0) | 0x08 | 0x20  # lock, locked, eject, tray
    page[8:10] = SPEED_KBS.to_bytes(2, "big")
    page[12:14] = BUFFER_KB.to_bytes(2, "big")
    page[14:16] = SPEED_KBS.to_bytes(2, "big")
    return bytes(page)


def mode_pages(code: int, locked: bool, changeable: bool) -> bytes | None:
    """MODE SENSE's pages for page ``code`` (3Fh: all), None for a page the drive does
    not have; ``changeable`` gives the pages' masks (nothing here can be changed)."""
    pages = {PAGE_ERROR_RECOVERY: _error_recovery_page(),
             PAGE_CAPABILITIES: _capabilities_page(locked)}
    if code == PAGE_ALL:
        chosen = [pages[c] for c in sorted(pages)]
    elif code in pages:
        chosen = [pages[code]]
    else:
        return None
    if changeable:
        chosen = [p[:2] + bytes(len(p) - 2) for p in chosen]
    return b"".join(chosen)


def mode_header(pages_length: int, has_media: bool) -> bytes:
    """The 8-byte MODE SENSE(10) header: data length, medium type, no block descriptor."""
    medium = 0x01 if has_media else 0x70  # 120 mm CD-ROM data / door closed, no disc
    return (pages_length + 6).to_bytes(2, "big") + bytes((medium, 0, 0, 0, 0, 0))
