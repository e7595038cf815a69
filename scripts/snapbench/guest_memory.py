"""Memory images of a guest "filled like a real one", cached under .cache/snapshot-bench/.

256 MiB: the RAM of Amber's Linux test guest (Debian's cloud kernel + the test initramfs) booted in QEMU
TCG with a guest script that puts ~20 MiB of typical data in a tmpfs, taken once it has settled. The
guest's RAM is a file (memory-backend-file), so the image is exactly its memory, holes included: pages
the guest never touched stay holes, like untouched pages of a VM's memfd.

1 GiB: the 256 MiB dump followed by 768 MiB of 1 MiB regions, shuffled: half never touched (holes),
a third text-like, a sixth random."""
import base64
import sys
import hashlib
import os
import random
import subprocess
import time

from .content import PAGE, TextSource, random_pages
from .qemu import Qemu, QemuError, qemu_binary

READY = "bench-guest-ready"
GUEST_SCRIPT = f"""mkdir -p /mnt
mount -t tmpfs -o size=96m tmpfs /mnt
cat /proc/kallsyms >/mnt/kallsyms.txt
sort -k3 /mnt/kallsyms.txt >/mnt/kallsyms-by-name.txt
dmesg >/mnt/dmesg.txt
seq 1 400000 >/mnt/numbers.txt
cp /bin/busybox /lib/modules/*.ko /mnt/
head -c 8388608 /dev/urandom >/mnt/random.bin
du -sk /mnt; free
echo {READY}
sleep 100000
"""
GENERATOR_VERSION = "1"
SETTLE_SECONDS = 3


def say(message):
    print(f"bench-snapshot: {message}", file=sys.stderr, flush=True)


def data_extents(fd):
    """(offset, length) of every run of the file that is not a hole."""
    size, offset, extents = os.fstat(fd).st_size, 0, []
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        extents.append((start, end - start))
        offset = end
    return extents


def copy_data(source_path, target_fd, block=8 << 20, base=0):
    """Copies the source file's data (not its holes) into target_fd at the same offsets plus base."""
    source = os.open(source_path, os.O_RDONLY)
    try:
        for start, length in data_extents(source):
            for offset in range(start, start + length, block):
                data = os.pread(source, min(block, start + length - offset), offset)
                view, done = memoryview(data), 0
                while done < len(data):
                    done += os.pwrite(target_fd, view[done:], base + offset + done)
    finally:
        os.close(source)


def sparse_copy(source_path, target_path):
    fd = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, os.stat(source_path).st_size)
        copy_data(source_path, fd)
    finally:
        os.close(fd)


def describe(path):
    """Facts about an image: size, bytes the guest touched, zero 4 KiB pages and zero 64 KiB chunks."""
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    touched = sum(length for _, length in data_extents(fd))
    zero_page, zero_chunk, chunk = bytes(PAGE), bytes(65536), 65536
    zero_pages = zero_chunks = 0
    for offset in range(0, size, 8 << 20):
        data = os.pread(fd, 8 << 20, offset)
        zero_pages += sum(1 for i in range(0, len(data), PAGE) if data[i:i + PAGE] == zero_page)
        zero_chunks += sum(1 for i in range(0, len(data), chunk) if data[i:i + chunk] == zero_chunk)
    os.close(fd)
    return {"bytes": size, "touched": touched, "zeroPages": zero_pages / (size // PAGE),
            "zeroChunks": zero_chunks / (size // chunk)}


def nonzero_pages(path):
    """Indices of the image's 4 KiB pages that hold data."""
    fd, zero_page, pages = os.open(path, os.O_RDONLY), bytes(PAGE), []
    try:
        for start, length in data_extents(fd):
            for offset in range(start, start + length, 8 << 20):
                data = os.pread(fd, min(8 << 20, start + length - offset), offset)
                pages.extend((offset + i) // PAGE for i in range(0, len(data), PAGE) if data[i:i + PAGE] != zero_page)
    finally:
        os.close(fd)
    return pages


def _stamp(*parts):
    digest = hashlib.sha256()
    for part in parts:
        if os.path.exists(str(part)):
            with open(part, "rb") as file:
                digest.update(hashlib.sha256(file.read()).digest())
        else:
            digest.update(str(part).encode())
    return digest.hexdigest()


def _cached(path, stamp):
    try:
        with open(path + ".stamp") as file:
            return file.read().strip() == stamp and os.path.exists(path)
    except OSError:
        return False


def _seal(path, stamp):
    with open(path + ".stamp", "w") as file:
        file.write(stamp + "\n")


def real_guest_image(cache, kernel, initrd, boot_timeout):
    """The 256 MiB memory of the Linux test guest after it settled (captured once, then cached)."""
    path = os.path.join(cache, "guest-256M.img")
    qemu_version = subprocess.run([qemu_binary(), "--version"], capture_output=True, text=True).stdout
    stamp = _stamp(kernel, initrd, GUEST_SCRIPT, qemu_version)
    if _cached(path, stamp):
        return path
    say("capturing the Linux test guest's memory in QEMU TCG (once; cached in .cache/snapshot-bench)")
    partial = path + ".partial"
    if os.path.exists(partial):
        os.unlink(partial)
    with open(partial, "wb") as file:
        file.truncate(256 << 20)
    console = os.path.join(cache, "guest-console.log")
    script = base64.b64encode(GUEST_SCRIPT.encode()).decode()
    append = f"console=ttyS0 reboot=k panic=1 initcall_blacklist=add_rtc_cmos amber.script={script}"
    began = time.monotonic()
    qemu = Qemu(cache, partial, 256 << 20,
                ["-cpu", "max", "-kernel", kernel, "-initrd", initrd, "-append", append,
                 "-chardev", f"file,id=console,path={console}", "-serial", "chardev:console"], "capture")
    try:
        while READY not in _read(console):
            if qemu.process.poll() is not None:
                raise QemuError(f"the test guest stopped before it was ready; console in {console}")
            if time.monotonic() - began > boot_timeout:
                raise QemuError(f"the test guest was not ready within {boot_timeout} s; console in {console}")
            time.sleep(0.5)
        ready = time.monotonic() - began
        time.sleep(SETTLE_SECONDS)
        qemu.command("stop")
    finally:
        qemu.stop()
    os.rename(partial, path)
    _seal(path, stamp)
    say(f"test guest ready after {ready:.1f} s; memory image {path}")
    return path


def _read(path):
    try:
        with open(path, errors="replace") as file:
            return file.read()
    except OSError:
        return ""


def filled_image(cache, base_path, memory_bytes):
    """`memory_bytes` of memory: the real dump, then shuffled 1 MiB regions (1/2 holes, 1/3 text, 1/6 random)."""
    base_bytes = os.stat(base_path).st_size
    if memory_bytes == base_bytes:
        return base_path
    path = os.path.join(cache, f"guest-{memory_bytes >> 20}M.img")
    stamp = _stamp(base_path + ".stamp", GENERATOR_VERSION, memory_bytes)
    if _cached(path, stamp):
        return path
    say(f"building the {memory_bytes >> 20} MiB image (real dump + synthetic regions)")
    regions = (memory_bytes - base_bytes) >> 20
    kinds = ["zero"] * (regions // 2) + ["text"] * (regions // 3)
    kinds += ["random"] * (regions - len(kinds))
    rng = random.Random(memory_bytes)
    rng.shuffle(kinds)
    text = TextSource()
    partial = path + ".partial"
    sparse_copy(base_path, partial)
    fd = os.open(partial, os.O_WRONLY)
    try:
        os.ftruncate(fd, memory_bytes)
        pages = (1 << 20) // PAGE
        for index, kind in enumerate(kinds):
            if kind != "zero":
                data = text.pages(rng, pages) if kind == "text" else random_pages(rng, pages)
                os.pwrite(fd, data, base_bytes + (index << 20))
    finally:
        os.close(fd)
    os.rename(partial, path)
    _seal(path, stamp)
    return path
