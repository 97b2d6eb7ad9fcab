#!/usr/bin/env python3
"""checksrc: the source rules a compiler does not enforce (after curl's
checksrc).  Exits 1 and names file:line for every breach.

- Banned calls: sprintf, vsprintf, strcat, strncat, strcpy, strncpy, strtok,
  atoi, atol, atoll, gets.  Each has a bounded or checked replacement
  (snprintf, buf_*, memcpy after a length check, strtol with an end check).
- Every file descriptor is born close-on-exec: open()/openat() with
  O_CLOEXEC, fopen() with "e" in its mode, socket()/accept4() with
  SOCK_CLOEXEC, pipe2(), never pipe() or accept().
- A file starts with a comment that says what it is for.

usage: checksrc.py DIR...   (the .c and .h files below each)"""
import os
import re
import sys

BANNED = re.compile(r"\b(sprintf|vsprintf|strcat|strncat|strcpy|strncpy|strtok|atoi|atol|atoll|gets)\s*\(")
OPEN = re.compile(r"\b(open|openat)\s*\(")
FOPEN = re.compile(r"\bfopen\s*\(\s*[^,]+,\s*\"([a-z+]*)\"")
SOCKET = re.compile(r"\bsocket\s*\(")
PLAIN = re.compile(r"\b(pipe|accept)\s*\(")
# A project header is named by its file name alone: a path ("../x/y.h")
# would reach past the layer's include directories, which the build
# enforces (a layer sees only its own headers and those below).
PATHINC = re.compile(r'^\s*#\s*include\s+"[^"]*/')


def strip(text):
    """Blanks comments and string contents, keeping line numbers and the
    quotes (fopen's mode is checked on the raw line)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def statement(lines, k):
    """The call starting on line k, up to its ';' (calls span lines)."""
    s = ""
    for line in lines[k:k + 8]:
        s += line
        if ";" in line:
            break
    return s


def check(path, errors):
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    if not raw.lstrip().startswith("/*"):
        errors.append(f"{path}:1: no opening comment saying what the file is for")
    code = strip(raw).split("\n")
    rawl = raw.split("\n")
    for k, line in enumerate(code):
        where = f"{path}:{k + 1}"
        for m in BANNED.finditer(line):
            errors.append(f"{where}: {m.group(1)}() is banned")
        m = PLAIN.search(line)
        if m and not re.search(r"\b(pipe|accept)\s*\(\s*\)", line):
            errors.append(f"{where}: {m.group(1)}() makes an inheritable descriptor; use "
                          f"{'pipe2(..., O_CLOEXEC)' if m.group(1) == 'pipe' else 'accept4(..., SOCK_CLOEXEC)'}")
        if OPEN.search(line) and "O_CLOEXEC" not in statement(code, k):
            errors.append(f"{where}: open() without O_CLOEXEC")
        if SOCKET.search(line) and "SOCK_CLOEXEC" not in statement(code, k):
            errors.append(f"{where}: socket() without SOCK_CLOEXEC")
        if PATHINC.search(rawl[k]):
            errors.append(f"{where}: a project header is included by its name alone, not a path")
        m = FOPEN.search(rawl[k])
        if m and "e" not in m.group(1):
            errors.append(f"{where}: fopen() mode \"{m.group(1)}\" without \"e\" (close-on-exec)")


def main():
    errors, files = [], 0
    for root in sys.argv[1:]:
        for d, _, names in os.walk(root):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    files += 1
                    check(os.path.join(d, name), errors)
    for e in errors:
        print(e)
    print(f"checksrc: {files} files, {len(errors)} problems")
    return 1 if errors or not files else 0


if __name__ == "__main__":
    sys.exit(main())
