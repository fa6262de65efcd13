"""A command run on a pseudo-terminal, and the screen a person would be left reading: the lines after every
carriage return, cursor move and erase (a pipe would show none of a progress bar's redraws)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

# The terminal sequences tqdm and a log line may write: cursor up/down, erase in line, colours.
_ESCAPE = re.compile(r"\x1b\[(\d*)([A-Za-z])")


def run_in_pty(command: list[str], *, columns: int = 80, timeout: float = 300, **popen) -> tuple[int, str]:
    """Run ``command`` with standard output and error on one new terminal ``columns`` wide; its exit status
    and everything it wrote, as the terminal received it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, **popen)
    os.close(follower)
    received, deadline = bytearray(), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closes with its last writer
                    break
                if not chunk:
                    break
                received += chunk
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        status = proc.wait()
        os.close(leader)
    return status, received.decode(errors="replace")


def screen_lines(output: str, columns: int = 80) -> list[str]:
    """The lines a terminal ``columns`` wide shows after ``output`` (scrolled-off lines included)."""
    lines: list[list[str]] = [[]]
    row = col = 0
    position = 0
    while position < len(output):
        char = output[position]
        escape = _ESCAPE.match(output, position)
        if escape:
            count, code = int(escape.group(1) or 1), escape.group(2)
            if code == "A":
                row = max(0, row - count)
            elif code == "B":
                row += count
            elif code == "K":  # erase from the cursor to the end of the line
                del lines[row][col:]
            position = escape.end()
            while len(lines) <= row:
                lines.append([])
            continue
        if char == "\r":
            col = 0
        elif char == "\n":
            row, col = row + 1, 0
            while len(lines) <= row:
                lines.append([])
        else:
            if col >= columns:  # the terminal wraps a full line
                row, col = row + 1, 0
                while len(lines) <= row:
                    lines.append([])
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = char
            else:
                line.append(char)
            col += 1
        position += 1
    return ["".join(line).rstrip() for line in lines]
