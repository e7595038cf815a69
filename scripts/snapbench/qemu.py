"""QEMU (TCG) driven through its human monitor (HMP) on a Unix socket.

Guest RAM is always a file (`memory-backend-file`, share=on): the guest's memory IS that file, so the
benchmark can read a real guest's memory after it ran, or put chosen content into a guest that never
runs, without a "load memory" command (HMP has none)."""
import os
import re
import shutil
import socket
import subprocess
import time

PROMPT = b"(qemu) "
# HMP is a line editor on a terminal: it echoes and redraws with escape sequences.
ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class QemuError(Exception):
    """QEMU failed, or its guest or monitor did not do what was asked; the message says which."""


def qemu_binary():
    binary = shutil.which("qemu-system-x86_64")
    if not binary:
        raise QemuError("qemu-system-x86_64 is missing: run scripts/install-deps")
    return binary


class Qemu:
    """One QEMU process with its guest RAM in `ram_file`; `stop()` always ends it."""

    def __init__(self, work, ram_file, memory_bytes, extra_arguments, log_name):
        self.socket_path = os.path.join(work, f"{log_name}.monitor")
        self.log_path = os.path.join(work, f"{log_name}.log")
        arguments = [qemu_binary(), "-accel", "tcg", "-m", f"{memory_bytes >> 20}M",
                     "-nodefaults", "-display", "none", "-no-reboot",
                     "-object", f"memory-backend-file,id=ram,size={memory_bytes >> 20}M,mem-path={ram_file},share=on",
                     "-machine", "pc,memory-backend=ram",
                     "-monitor", f"unix:{self.socket_path},server=on,wait=off"] + extra_arguments
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.connection = None
        self._connect()

    def _connect(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise QemuError(f"qemu exited with {self.process.returncode}: {self._log_tail()}")
            try:
                connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                connection.connect(self.socket_path)
                break
            except OSError:
                connection.close()
                if time.monotonic() > deadline:
                    raise QemuError(f"qemu's monitor socket {self.socket_path} never answered")
                time.sleep(0.05)
        self.connection = connection
        self._read_to_prompt(timeout)

    def _log_tail(self):
        try:
            with open(self.log_path, "rb") as log:
                return log.read()[-400:].decode(errors="replace").strip()
        except OSError:
            return ""

    def _read_to_prompt(self, timeout):
        self.connection.settimeout(timeout)
        received = b""
        while not received.endswith(PROMPT):
            try:
                block = self.connection.recv(65536)
            except socket.timeout:
                raise QemuError(f"qemu's monitor gave no prompt within {timeout} s")
            if not block:
                raise QemuError(f"qemu's monitor closed: {self._log_tail()}")
            received += block
        return ESCAPES.sub(b"", received[:-len(PROMPT)]).decode(errors="replace")

    def command(self, line, timeout=600):
        """Runs one HMP command and returns its output (without the echoed command line)."""
        self.connection.sendall(line.encode() + b"\n")
        output = self._read_to_prompt(timeout)
        lines = output.replace("\r", "").split("\n")
        return "\n".join(lines[1:]).strip() if lines and line in lines[0] else "\n".join(lines).strip()

    def wait_for_migration(self, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.command("info migrate")
            match = re.search(r"Migration status: (\S+)", status)
            if match and match.group(1) == "completed":
                return status
            if match and match.group(1) in ("failed", "cancelled"):
                raise QemuError(f"migration {match.group(1)}: {status}")
            time.sleep(0.02)
        raise QemuError(f"migration did not complete within {timeout} s")

    def stop(self):
        if self.process.poll() is None:
            try:
                self.connection.sendall(b"quit\n")
                self.process.wait(timeout=10)
            except (OSError, AttributeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        if self.connection:
            self.connection.close()
