"""A VM started through the product path (`amber run --detach`, a halting tiny kernel) whose guest memory
the benchmark fills from outside: amber-vmm's guest RAM is private memory at the address its control
socket's status reports, which root can write through /proc/PID/mem."""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time

from .content import apply_writes
from .guest_memory import copy_data


class AmberError(Exception):
    """An `amber` command failed or answered something unexpected; the message says which."""


def guest_ram_address(socket_path):
    """Where amber-vmm's guest RAM starts in its address space: its answer to a status request on the
    control socket at socket_path."""
    with socket.socket(socket.AF_UNIX) as control:
        control.connect(socket_path)
        control.sendall(b'{"op":"status","v":2}\n')  # control protocol version 2 (Sources/AmberControl)
        answer = json.loads(control.makefile().readline())
    if answer.get("reply") != "status" or "memoryAddress" not in answer.get("status", {}):
        raise AmberError(f"amber-vmm at {socket_path} gave no memory address: {answer}")
    return answer["status"]["memoryAddress"]


def resident_bytes(pid, address):
    """Host memory the mapping starting at address holds in process pid (its Rss in /proc/PID/smaps)."""
    rss, inside = 0, False
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = int(line.split("-")[0], 16) == address
            elif inside and line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
    return rss


class Amber:
    """The `amber` CLI with one state directory (AMBER_HOME)."""

    def __init__(self, binary, home, prefix=()):
        """`prefix`: a command to run amber under, e.g. ("chrt", "-f", "50")."""
        self.binary, self.home, self.prefix = binary, home, list(prefix)
        self.environment = dict(os.environ, AMBER_HOME=home)

    def run(self, *arguments, timeout=600):
        done = subprocess.run([*self.prefix, self.binary, *arguments], capture_output=True, text=True,
                              env=self.environment, timeout=timeout)
        if done.returncode != 0:
            raise AmberError(f"amber {' '.join(arguments)} failed (exit {done.returncode}): "
                             f"{(done.stderr or done.stdout).strip()}")
        return done.stdout

    def json(self, *arguments):
        return json.loads(self.run(*arguments, "--json"))

    def timed_snapshot(self, name):
        """`amber snapshot NAME --json`: (wall seconds from spawn to exit, its JSON answer with "cpu", the
        process's user + system seconds, added)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        answer = json.loads(self.run("snapshot", name, "--json"))
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        answer["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, answer


class BenchVM:
    """One running VM of `memory_bytes`; `stop()` is safe to call more than once."""

    live = []

    def __init__(self, amber, name, kernel, memory_bytes):
        self.amber, self.name, self.memory_bytes = amber, name, memory_bytes
        answer = amber.run("run", name, "--detach", "--net", "none", "--kernel", kernel, "--memory", f"{memory_bytes >> 20}M")
        match = re.search(r"pid (\d+)", answer)
        if not match:
            raise AmberError(f"amber run --detach printed no pid: {answer.strip()}")
        self.pid = int(match.group(1))
        BenchVM.live.append(self)
        self.memory_address = guest_ram_address(os.path.join(self.amber.home, "vms", self.name, "control.sock"))
        self.memory_fd = os.open(f"/proc/{self.pid}/mem", os.O_RDWR)

    def fill(self, image):
        """Puts the image's data into guest memory; its holes stay untouched (never-used pages)."""
        if os.stat(image).st_size != self.memory_bytes:
            raise AmberError(f"{image} is not {self.memory_bytes} bytes")
        copy_data(image, self.memory_fd, base=self.memory_address)

    def write(self, writes):
        """(offset, bytes) pairs into guest memory, as the guest's own writes would change it."""
        apply_writes(self.memory_fd, writes, base=self.memory_address)

    def allocated_bytes(self):
        """Host memory guest RAM holds (its resident pages)."""
        return resident_bytes(self.pid, self.memory_address)

    def stop(self):
        if self not in BenchVM.live:
            return
        BenchVM.live.remove(self)
        os.close(self.memory_fd)
        try:
            self.amber.run("stop", self.name, timeout=30)
        except (AmberError, subprocess.TimeoutExpired):
            pass
        # Only if that pid is still our amber-vmm (it may have exited and the pid been reused).
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as cmdline:
                if b"amber-vmm" in cmdline.read():
                    os.kill(self.pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass

    @classmethod
    def stop_all(cls):
        for vm in list(cls.live):
            vm.stop()
