"""The echo guest: a 4 KiB bzImage (boot protocol 2.15, 64-bit entry) that
prints BANNER on COM1 and echoes what it reads there, lower case turned
upper case. On a host whose /dev/kvm cannot boot a real kernel quickly, it
shows that console bytes went through a guest (used by clients_events and
tests/gui)."""
import struct

import hyvetest

# The echo guest's code at the 64-bit entry (load address + 0x200), as
# assembled by GNU as from:
#       mov $0x3f8,%dx; lea msg(%rip),%rsi
#   1:  lodsb; test %al,%al; jz 3f; out %al,%dx; jmp 1b
#   3:  mov $0x3fd,%dx; in %dx,%al; test $1,%al; jnz 4f       # LSR: data ready?
#       mov $2000,%ecx; 5: pause; loop 5b; jmp 3b               # no: wait a little
#   4:  mov $0x3f8,%dx; in %dx,%al                              # RBR
#       cmp $'a',%al; jb 6f; cmp $'z',%al; ja 6f; sub $0x20,%al
#   6:  out %al,%dx; jmp 3b                                      # THR
#   msg: .asciz "HYVE-ECHO-READY\r\n"
ECHO_CODE = bytes.fromhex(
    "66baf803488d352e000000ac84c07403eeebf866bafd03eca801750bb9d0070000f390e2fc"
    "ebec66baf803ec3c6172063c7a77022c20eeebda485956452d4543484f2d52454144590d0a00")
BANNER = b"HYVE-ECHO-READY"
BANNER_TEXT = BANNER.decode()


def echo_bzimage():
    """A bzImage (boot protocol 2.15, 64-bit entry) around ECHO_CODE."""
    setup = bytearray(1024)
    setup[0x1F1] = 1                                    # setup_sects
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200:0x202] = b"\xEB\x6A"
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020F)        # protocol 2.15
    setup[0x211] = 1                                    # loadflags: LOADED_HIGH
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)    # initrd_addr_max
    struct.pack_into("<I", setup, 0x230, 0x200000)      # kernel_alignment
    struct.pack_into("<H", setup, 0x236, 1)             # xloadflags: XLF_KERNEL_64
    struct.pack_into("<I", setup, 0x238, 2047)          # cmdline_size
    struct.pack_into("<I", setup, 0x260, 0x100000)      # init_size
    img = bytes(setup) + bytes(0x200) + ECHO_CODE
    return img + bytes(1024 + 4096 - len(img))


def domain_xml(name, kernel, memory_kib=65536, uuid=None):
    """A domain booting the echo guest KERNEL (no initrd), its serial port
    on a pty."""
    return hyvetest.domain_xml(name, uuid=uuid and str(uuid), memory_kib=memory_kib,
                               kernel=kernel, initrd="")
