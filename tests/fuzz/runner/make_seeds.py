#!/usr/bin/python3
"""Writes the hand-made seed corpora of the runner harnesses
(tests/fuzz/runner/corpus/<harness>/seed-*).  Run from anywhere:
    tests/fuzz/runner/make_seeds.py
The input formats are the op programs described in fuzz_virtio.c and
fuzz_platform.c; the layouts follow tests/unit/runner/test_virtio_*.c and
test_pci.c."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def u8(v): return struct.pack('<B', v & 0xFF)
def u16(v): return struct.pack('<H', v & 0xFFFF)
def u32(v): return struct.pack('<I', v & 0xFFFFFFFF)
def u64(v): return struct.pack('<Q', v & 0xFFFFFFFFFFFFFFFF)


def write(harness, name, data):
    d = os.path.join(HERE, 'corpus', harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


# --- virtio programs (fuzz_virtio.c) ---------------------------------------
def init(features, sizes, queues):
    """op 0: features (low word), size nibbles, (desc, avail, used) per queue"""
    b = u8(0) + u32(features) + u8(sizes)
    for desc, avail, used in queues:
        b += u16(desc) + u16(avail) + u16(used)
    return b


def chain(q, outs, ins, first=0, indirect=False, doorbell=True):
    """op 6: readable buffers `outs` (bytes), writable lengths `ins`"""
    shape = len(outs) | len(ins) << 3 | (0x40 if indirect else 0)
    b = u8(6) + u8(q) + u8(shape) + u8(first)
    for o in outs:
        b += u8(len(o)) + o
    for i in ins:
        b += u16(i)
    return b + u8(1 if doorbell else 0)


def desc(q, idx, addr, length, flags, nxt):
    """op 4 with 64-bit address and 32-bit length"""
    return u8(4) + u8(q) + u16(idx) + u8(3) + u64(addr) + u32(length) + u8(flags) + u16(nxt)


def avail(q, head, count=1):
    return u8(5) + u8(q) + u16(head) + (u8(2) + u16(count) if count != 1 else u8(0))


def doorbell(q): return u8(7) + u8(q)
def bar_wr(off, size_code, val): return u8(1) + u16(off) + u8(size_code) + u64(val)
def bar_rd(off, size_code): return u8(2) + u16(off) + u8(size_code)
def cfg_wr(reg, size_code, val): return u8(8) + u8(reg) + u8(size_code) + u32(val)
def backend(data):
    n = (len(data) + 7) // 8
    return u8(9) + u8(n) + data.ljust(8 * n, b'\0')


MSIX = cfg_wr(0x42, 1, 0x8000) + bar_wr(0x4000 + 12, 2, 0) + bar_wr(0x4000 + 16 + 12, 2, 0)
Q1 = [(0x1000, 0x2000, 0x3000)]
Q2 = [(0x1000, 0x2000, 0x3000), (0x4000, 0x5000, 0x6000)]


def blk_hdr(t, sector): return u32(t) + u32(0) + u64(sector)


def blk():
    h = 'runner-virtio-blk'
    feat = 1 << 9 | 1 << 13 | 1 << 28
    disk = 3                                   # 16.5 KiB, writable, no serial
    base = u8(disk) + init(feat, 4, Q1)
    write(h, 'write-read', base + chain(0, [blk_hdr(1, 2), b'A' * 64], [1]) +
          chain(0, [blk_hdr(0, 2)], [64, 1], first=4))
    write(h, 'flush-getid', u8(disk | 16) + init(feat, 4, Q1) + chain(0, [blk_hdr(4, 0)], [1]) +
          chain(0, [blk_hdr(8, 0)], [21], first=3))
    write(h, 'discard', base + chain(0, [blk_hdr(11, 0), u64(1) + u32(2) + u32(0)], [1]))
    write(h, 'out-of-range', base + chain(0, [blk_hdr(0, 1 << 40)], [512, 1]) +
          chain(0, [blk_hdr(99, 0)], [1], first=5))
    write(h, 'indirect', base + chain(0, [blk_hdr(1, 0), b'B' * 32], [1], indirect=True))
    write(h, 'readonly', u8(disk | 8) + init(1 << 5, 4, Q1) + chain(0, [blk_hdr(1, 0), b'C' * 16], [1]))
    write(h, 'loop', base + desc(0, 0, 0x8000, 16, 1, 1) + desc(0, 1, 0x8010, 16, 1, 0) +
          avail(0, 0) + doorbell(0))
    write(h, 'msix', base + MSIX + chain(0, [blk_hdr(0, 0)], [16, 1]))
    write(h, 'reset-reuse', base + chain(0, [blk_hdr(0, 0)], [8, 1]) + bar_wr(20, 0, 0) +
          init(feat, 3, [(0x7000, 0x7800, 0x7C00)]) + chain(0, [blk_hdr(0, 1)], [8, 1]) +
          bar_rd(0x1000, 0))


def net():
    h = 'runner-virtio-net'
    feat = 1 << 5 | 1 << 16
    base = init(feat, 0x44, Q2)
    frame = b'\xff' * 6 + b'\x52\x54\x00\x12\x34\x56' + b'\x08\x06' + b'\0' * 46
    write(h, 'tx', base + chain(1, [b'\0' * 12, frame], []))
    write(h, 'rx', base + chain(0, [], [1526]) + backend(b'\0' * 12 + frame))
    write(h, 'rx-before-buffers', base + backend(b'\0' * 12 + frame) + chain(0, [], [64, 1526]))
    write(h, 'rx-short-buffer', base + chain(0, [], [8]) + backend(b'\0' * 12 + frame))
    write(h, 'tx-bad-avail', base + avail(1, 300) + doorbell(1))
    write(h, 'msix', base + MSIX + chain(0, [], [256]) + backend(b'\0' * 64) + chain(1, [b'\0' * 80], []))


def console():
    h = 'runner-virtio-console'
    base = init(0, 0x33, Q2)
    write(h, 'tx', base + chain(1, [b'hello, console\n'], []))
    write(h, 'rx', base + chain(0, [], [32]) + backend(b'typed input\n'))
    write(h, 'rx-before-buffers', base + backend(b'early bytes') + chain(0, [], [4, 4, 64]))
    write(h, 'rx-readable-only', base + chain(0, [b'x' * 8], []) + backend(b'abc'))
    write(h, 'msix', base + MSIX + chain(1, [b'a' * 200, b'b' * 10], []))


def rng():
    h = 'runner-virtio-rng'
    base = init(0, 3, Q1)
    write(h, 'fill', base + chain(0, [], [64]))
    write(h, 'multi', base + chain(0, [], [16, 32, 7], first=2) + chain(0, [], [1]))
    write(h, 'readable', base + chain(0, [b'x' * 4], [8]))
    write(h, 'write-then-read', base + desc(0, 0, 0x8000, 8, 3, 1) + desc(0, 1, 0x8100, 8, 0, 0) +
          avail(0, 0) + doorbell(0))
    write(h, 'outside-ram', base + desc(0, 0, 0xFFF0, 0x20, 2, 0) + avail(0, 0) + doorbell(0))
    write(h, 'layout-outside', init(0, 7, [(0xFF00, 0xFFF0, 0xFFFC)]) + chain(0, [], [8]))
    write(h, 'msix', base + MSIX + chain(0, [], [8]) + bar_rd(0x5000, 3))


# --- platform programs (fuzz_platform.c) ------------------------------------
PORT = {0xCF8: 0, 0xCF9: 1, 0xCFC: 4, 0xCFD: 5, 0x600: 8, 0x602: 10, 0x604: 12, 0x605: 13, 0x60: 14, 0x64: 15}
SZ = {1: 0, 2: 1, 4: 2, 8: 3}


def port(p, size, write_, val):
    return u8((0x80 if write_ else 0) | SZ[size] << 5 | 0) + u8(PORT[p]) + u32(val)


def cfgop(slot, reg, size, write_, val):
    return u8((0x80 if write_ else 0) | SZ[size] << 5 | 4) + u8(slot) + u8(reg) + u32(val)


def mmio(off, size, write_, val):
    return u8((0x80 if write_ else 0) | SZ[size] << 5 | 5) + u32(off) + u64(val)


def platform():
    h = 'runner-platform'
    params = u8(0) + u8(0) + u32(224)                     # 1 vCPU, base 0xE0000, 256 MiB
    big = u8(63) + u8(3) + u32(4096 - 32)                 # 64 vCPUs, 4 GiB
    probe = b''.join(cfgop(s, r, 4, False, 0) for s in (0, 3, 4, 7) for r in (0, 8, 0x10, 0x2C, 0x34))
    write(h, 'probe', params + probe)
    write(h, 'bar-sizing-move', big + cfgop(3, 0x10, 4, True, 0xFFFFFFFF) + cfgop(3, 0x10, 4, False, 0) +
          cfgop(3, 0x10, 4, True, 0xC0100000) + mmio(0x100000 + 18, 2, False, 0) +
          cfgop(4, 0x10, 4, True, 0xC0100000) + cfgop(3, 0x04, 2, True, 0xFFFF))
    write(h, 'msix-common', params + cfgop(3, 0x42, 2, True, 0x8000) + mmio(20, 1, True, 3) +
          mmio(0x4000, 8, True, 0xFEE00000) + mmio(0x4000 + 12, 4, True, 0) +
          mmio(22, 2, True, 0) + mmio(32, 4, True, 0x1000) + mmio(28, 2, True, 1) +
          mmio(0x5000, 8, False, 0) + mmio(0x1000, 1, False, 0))
    write(h, 'pm-powerbutton', params + u8(7) + port(0x602, 2, True, 0x0100) + port(0x600, 2, False, 0) +
          port(0x600, 2, True, 0x0100) + port(0x604, 2, False, 0))
    write(h, 'pm-s5', params + port(0x604, 2, True, 5 << 10 | 0x2000))
    write(h, 'pm-bytes', params + port(0x605, 1, True, 0x34) + port(0x602, 4, True, 0xFFFFFFFF))
    write(h, 'reset-cf9', params + port(0xCF9, 1, True, 6) + port(0x64, 1, True, 0xFE))
    write(h, 'latch', params + port(0xCF8, 4, True, 0x80001810) + port(0xCFD, 2, False, 0) +
          u8(0x80 | 2 << 5 | 3) + u16(0xCFB) + u32(1))


def config():
    h = 'runner-config'
    base = 'boot.kernel=/boot/vmlinuz\nname=vm1\n'
    full = ('boot.cmdline=console=ttyS0 root=/dev/vda\nboot.initrd=/boot/initrd\n'
            'boot.kernel=/boot/vmlinuz\nboot.paused=true\ncom1.backend=pty\n'
            'com2.backend=unix:/run/c2.sock\ncontrol.socket=/run/vm1.ctl\ncpus=4\n'
            'exit.file=/run/vm1.exit\nmemory.hugepages=false\nmemory.mergeable=true\n'
            'memory.size=512M\nname=vm1\n'
            'pci.0.3.0.device=virtio-blk\npci.0.3.0.path=/var/lib/disk.img\n'
            'pci.0.3.0.readonly=true\npci.0.3.0.serial=SERIAL-1\n'
            'pci.0.4.0.device=virtio-net\npci.0.4.0.mac=52:54:00:aa:bb:cc\npci.0.4.0.tap=tap0\n'
            'pci.0.5.0.device=virtio-net\npci.0.5.0.fd=7\n'
            'pci.0.6.0.backend=file:/tmp/out\npci.0.6.0.device=virtio-console\n'
            'pci.0.31.0.device=virtio-rng\n')
    seeds = {
        'minimal': base,
        'full': full,
        'comment': '# generated\n' + base + 'cpus=64\nmemory.size=1024G\n',
        'duplicate': base + 'cpus=2\ncpus=3\n',
        'slot-prop-wrong-model': base + 'pci.0.3.0.device=virtio-rng\npci.0.3.0.path=/d\n',
        'net-both': base + 'pci.0.5.0.device=virtio-net\npci.0.5.0.fd=5\npci.0.5.0.tap=tap0\n',
        'exit-file-error': 'exit.file=/run/x.exit\n' + base + 'bogus=1\n',
        'sizes': base + 'memory.size=33554432\n',
        'no-trailing-newline': base.rstrip('\n'),
        'nul-byte': base + 'cpus=2\0\n',
    }
    for k, v in seeds.items():
        write(h, k, v.encode())


# --- loader (fuzz_loader.c) -------------------------------------------------
def bzimage(setup_sects=1, init_size=0x100000, hdr_len=0x6A, extra=0x1000):
    img = bytearray((setup_sects + 1) * 512 + 0x200 + extra)
    img[0x1F1] = setup_sects
    img[0x1FE:0x200] = u16(0xAA55)
    img[0x201] = hdr_len
    img[0x202:0x206] = b'HdrS'
    img[0x206:0x208] = u16(0x020F)
    img[0x211] = 1
    img[0x22C:0x230] = u32(0x7FFFFFFF)
    img[0x230:0x234] = u32(0x200000)
    img[0x236:0x238] = u16(0x7F)
    img[0x238:0x23C] = u32(2047)
    img[0x260:0x264] = u32(init_size)
    return bytes(img)


def loader():
    h = 'runner-loader'
    cmd = b'console=ttyS0 root=/dev/vda'
    write(h, 'plain', u8(8) + u8(0) + u16(0) + u8(len(cmd)) + cmd + bzimage())
    write(h, 'initrd', u8(31) + u8(0) + u16(1024) + u8(0) + bzimage(setup_sects=4))
    write(h, 'padded', u8(16) + u8(0x80 | 2) + u16(64) + u8(3) + b'a=b' + bzimage(setup_sects=0))
    write(h, 'too-small', u8(0) + u8(0) + u16(0) + u8(0) + bzimage(init_size=0x3F98000))
    write(h, 'old-protocol', u8(0) + u8(0) + u16(0) + u8(0) + bzimage()[:0x206] + u16(0x020B) +
          bzimage()[0x208:])


def vmlinux(entry_off=0x40, paddr=0x1000000, memsz=0x5000):
    """ELF64 x86-64 executable: one PT_LOAD R+X (file 0x1000..0x2FFF) and a
    PT_NOTE, like tests/unit/runner/test_kernel.c's make_elf()"""
    e = bytearray(0x3000)
    e[0:7] = b'\x7fELF\x02\x01\x01'
    e[0x10:0x14] = u16(2) + u16(62)
    e[0x18:0x28] = u64(paddr + entry_off) + u64(64)
    e[0x36:0x3A] = u16(56) + u16(2)
    e[64:64 + 56] = u32(1) + u32(5) + u64(0x1000) + u64(0xFFFFFFFF81000000) + \
        u64(paddr) + u64(0x2000) + u64(memsz) + u64(0x200000)
    e[120:120 + 56] = u32(4) + u32(4) + u64(0x1000) + u64(0) + u64(0) + \
        u64(0x10) + u64(0x10) + u64(4)
    e[0x1000:0x3000] = b'\xcc' * 0x2000
    return bytes(e)


def kernel():
    """fuzz_kernel.c: byte 0 = mode (bit 7: payload) | RAM, then the data"""
    import gzip
    import lzma
    h = 'runner-kernel'
    write(h, 'elf', u8(8) + vmlinux())
    write(h, 'elf-bss', u8(0) + vmlinux(memsz=0x100000))
    write(h, 'elf-high', u8(63) + vmlinux(paddr=0x6000000))
    write(h, 'elf-entry-out', u8(1) + vmlinux(entry_off=0x3000))
    xz = lzma.compress(vmlinux(), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    write(h, 'payload-xz', u8(0x80) + xz + u32(0x3000))
    write(h, 'payload-xz-bomb', u8(0x80) + xz + u32(0xFFFFFFF0))
    write(h, 'payload-gzip', u8(0x81) + gzip.compress(vmlinux(), mtime=0))


if __name__ == '__main__':
    blk()
    net()
    console()
    rng()
    platform()
    config()
    loader()
    kernel()
