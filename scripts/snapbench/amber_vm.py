"""A VM started through the product path (`amber run --detach`, a halting tiny kernel) whose guest memory
the benchmark fills from outside: amber-vmm's guest RAM is the memfd `amber-NAME`, which root can open
read-write through /proc/PID/fd/N."""
import json
import os
import re
import resource
import signal
import subprocess
import time

from .guest_memory import copy_data


class AmberError(Exception):
    """An `amber` command failed or answered something unexpected; the message says which."""


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
        answer = amber.run("run", name, "--detach", "--kernel", kernel, "--memory", f"{memory_bytes >> 20}M")
        match = re.search(r"pid (\d+)", answer)
        if not match:
            raise AmberError(f"amber run --detach printed no pid: {answer.strip()}")
        self.pid = int(match.group(1))
        BenchVM.live.append(self)
        self.memory_fd = os.open(self._memory_path(), os.O_RDWR)

    def _memory_path(self):
        wanted = f"/memfd:amber-{self.name} (deleted)"
        directory = f"/proc/{self.pid}/fd"
        for entry in os.listdir(directory):
            try:
                if os.readlink(f"{directory}/{entry}") == wanted:
                    return f"{directory}/{entry}"
            except OSError:
                continue
        raise AmberError(f"amber-vmm (pid {self.pid}) holds no memfd named amber-{self.name}")

    def fill(self, image):
        """Puts the image's data into guest memory; its holes stay untouched (never-used pages)."""
        if os.stat(image).st_size != self.memory_bytes:
            raise AmberError(f"{image} is not {self.memory_bytes} bytes")
        copy_data(image, self.memory_fd)

    def allocated_bytes(self):
        """Host memory the guest memory file holds (its pages that are not holes)."""
        return os.fstat(self.memory_fd).st_blocks * 512

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
