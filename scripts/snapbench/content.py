"""Synthetic guest memory content: text-like pages (word soup, ~2-3x for LZ4, like page cache of logs and
source), random pages (compressed or encrypted data), and the changes a running guest makes between
snapshots. Everything comes from seeded generators, so the same round gives the same bytes to Amber and
to QEMU, and reruns give the same images."""
import os
import random

PAGE = 4096
WORDS = ("the of and to in is for on that with kernel memory page file user error info warn debug request "
         "response session cache hit miss GET POST /api/v1/items /var/log/syslog 200 404 500 latency= ms id= "
         "null true false { } [ ] : , \" = 2026-11-27T02:19:20Z systemd[1]: Started nginx.service eth0 "
         "0x7ffd3a2c ERROR WARNING return if else struct int char").split()


class TextSource:
    """Text-like pages cut at random byte offsets from one word-soup corpus: every 64 KiB chunk made of
    them is unique (nothing dedups by accident) and LZ4 finds only what a real text file would give it."""

    def __init__(self, seed=7, corpus_bytes=4 << 20):
        rng = random.Random(seed)
        pieces, length = [], 0
        while length < corpus_bytes:
            word = rng.choice(WORDS)
            if rng.random() < 0.15:
                word += str(rng.randrange(100000))
            word += "\n" if rng.random() < 0.08 else " "
            pieces.append(word)
            length += len(word)
        self.corpus = "".join(pieces).encode()[:corpus_bytes]

    def pages(self, rng, count):
        limit = len(self.corpus) - PAGE
        return b"".join(self.corpus[o:o + PAGE] for o in (rng.randrange(limit) for _ in range(count)))


def random_pages(rng, count):
    return rng.randbytes(count * PAGE)


class Churn:
    """What a running guest rewrites between two snapshots, as (offset, bytes) writes.

    Patterns (all change `share` of the guest's 4 KiB pages, at offsets uniform over the whole memory,
    new content 2/3 text-like and 1/3 random per run or page):
    - "mixed" (the headline): 80% of the pages in runs of 16-256 pages (64 KiB-1 MiB, starting at any
      page, like page cache and heap growth), 20% as single scattered pages (kernel data, stacks);
    - "runs": every change a 64 KiB-aligned run of 16-256 pages (the best case for 64 KiB chunks);
    - "scattered": single 4 KiB pages only (the worst case: each costs a whole chunk);
    - "used": like "mixed", but `share` of the pages that hold data (non-zero in the first image) and
      every run or page starting at one of them: a guest that rewrites what it uses and leaves free
      memory free (the chunk store benchmark's reading of "5%")."""

    PATTERNS = ("mixed", "runs", "scattered", "used")

    def __init__(self, text, memory_bytes, pattern="mixed", share=0.05, used_pages=None):
        if pattern not in self.PATTERNS:
            raise ValueError(f"unknown churn pattern {pattern}: use one of {', '.join(self.PATTERNS)}")
        self.text, self.pages_total, self.pattern, self.share = text, memory_bytes // PAGE, pattern, share
        self.used_pages = used_pages

    def _content(self, rng, pages):
        return self.text.pages(rng, pages) if rng.random() < 2 / 3 else random_pages(rng, pages)

    def writes(self, round_number):
        """The writes of one round (1, 2, ...); a page may be written twice, the count stays ~share."""
        rng = random.Random(f"{self.pattern}-{self.pages_total}-{round_number}")
        used = self.pattern == "used"
        target = int((len(self.used_pages) if used else self.pages_total) * self.share)
        in_runs = {"mixed": target * 4 // 5, "used": target * 4 // 5, "runs": target, "scattered": 0}[self.pattern]

        def start_page():
            return rng.choice(self.used_pages) if used else rng.randrange(self.pages_total)

        writes, written = [], 0
        while written < in_runs:
            length = min(rng.randint(16, 256), in_runs - written)
            start = min(start_page(), self.pages_total - length)
            if self.pattern == "runs":
                start -= start % 16
            writes.append((start * PAGE, self._content(rng, length)))
            written += length
        for _ in range(target - in_runs):
            writes.append((start_page() * PAGE, self._content(rng, 1)))
        return writes


def apply_writes(fd, writes, base=0):
    """Writes each (offset, bytes) at base + offset of fd."""
    for offset, data in writes:
        view, done = memoryview(data), 0
        while done < len(data):
            done += os.pwrite(fd, view[done:], base + offset + done)
