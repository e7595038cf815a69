"""A bzImage-shaped file whose 64-bit entry point halts with interrupts off: amber-vmm boots it through
the same path as Linux, and the guest never touches its memory again, so the benchmark owns every byte."""


def write_tiny_kernel(path):
    image = bytearray(2 * 512 + 0x1000)
    image[0x1F1] = 1                                              # setup_sects
    image[0x1FE:0x200] = b"\x55\xAA"                              # boot flag
    image[0x200:0x202] = b"\xEB\x66"                              # jump over the header
    image[0x202:0x206] = b"HdrS"
    image[0x206:0x208] = (0x020F).to_bytes(2, "little")           # boot protocol 2.15
    image[0x211] = 0x01                                           # loadflags: loaded high
    image[0x22C:0x230] = (0x7FFFFFFF).to_bytes(4, "little")       # initrd_addr_max
    image[0x230:0x234] = (0x200000).to_bytes(4, "little")         # kernel_alignment
    image[0x236:0x238] = (1).to_bytes(2, "little")                # xloadflags: 64-bit entry
    image[0x238:0x23C] = (2047).to_bytes(4, "little")             # cmdline_size
    image[0x260:0x264] = (0x100000).to_bytes(4, "little")         # init_size
    image[1024 + 0x200:1024 + 0x204] = b"\xFA\xF4\xEB\xFD"        # 64-bit entry: cli; hlt; jmp hlt
    with open(path, "wb") as file:
        file.write(image)
