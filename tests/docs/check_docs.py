#!/usr/bin/env python3
"""The documentation stays true and self-contained:

- every relative link of README.md, docs/*.md and the other user-facing READMEs points to a file
  or directory of the repository, and every #anchor to a heading of its target;
- no user-facing text (those files, the chart's values and templates, the CRD, the examples,
  and `profileguard help` of every command) refers to a file outside the repository (the
  developers' contract, "SPEC", "../shared");
- every flag `profileguard help <command>` prints is in docs/cli.md's section of that command
  (or in docs/<command>.md), and every command it lists has such a section;
- every key of charts/profileguard/values.yaml is in docs/chart.md.

usage: check_docs.py --srcdir SRC --binary PROFILEGUARD
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import unittest

# Pages written on other branches at the same time as these: links to them are allowed to dangle
# until they are merged. Remove an entry once its page exists.
PENDING = set()


def user_docs(src):
    files = ["README.md", "examples/README.md", "charts/profileguard/README.md"]
    files += sorted(os.path.relpath(p, src) for p in glob.glob(os.path.join(src, "docs", "*.md")))
    return [f for f in files if os.path.exists(os.path.join(src, f))]


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    h = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip()).lower()
    h = re.sub(r"[^\w\- ]", "", h, flags=re.UNICODE)
    return h.replace(" ", "-")


def anchors(path):
    out, seen, fence = set(), {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


def links(path):
    """(line number, target) of every markdown link outside code blocks and code spans."""
    out, fence = [], False
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for m in re.finditer(r"\]\(([^)\s]+)\)", line):
            out.append((no, m.group(1)))
    return out


def help_text(binary, *args):
    r = subprocess.run([binary, "help", *args], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def commands(binary):
    text = help_text(binary)
    block = text.split("commands:", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)\s{2,}\S", block, flags=re.M)]


def section(md, title):
    """The text of the '## title' section of @md, up to the next '## ' heading."""
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", md, flags=re.M | re.S)
    return m.group(1) if m else ""


class Docs(unittest.TestCase):

    def test_relative_links_resolve(self):
        bad = []
        for doc in user_docs(ARGS.srcdir):
            base = os.path.dirname(os.path.join(ARGS.srcdir, doc))
            for no, target in links(os.path.join(ARGS.srcdir, doc)):
                if re.match(r"^[a-z]+:", target):
                    continue          # https:, mailto:
                path, _, frag = target.partition("#")
                full = os.path.normpath(os.path.join(base, path)) if path else os.path.join(ARGS.srcdir, doc)
                rel = os.path.relpath(full, ARGS.srcdir)
                if rel.startswith(".."):
                    bad.append(f"{doc}:{no}: {target}: outside the repository")
                    continue
                if not os.path.exists(full):
                    if rel not in PENDING:
                        bad.append(f"{doc}:{no}: {target}: no such file")
                    continue
                if frag and full.endswith(".md") and frag not in anchors(full):
                    bad.append(f"{doc}:{no}: {target}: no heading with that anchor in {rel}")
        self.assertEqual(bad, [], "\n".join(bad))

    def test_pending_pages_are_still_pending(self):
        """Once a page of PENDING exists, its entry goes, so its links are checked again."""
        here = [p for p in sorted(PENDING) if os.path.exists(os.path.join(ARGS.srcdir, p))]
        self.assertEqual(here, [], "remove these from PENDING in tests/docs/check_docs.py")

    def test_no_reference_outside_the_repository(self):
        files = user_docs(ARGS.srcdir)
        files += ["crds/workloadprofile.yaml", "charts/profileguard/values.yaml",
                  "charts/profileguard/Chart.yaml"]
        files += [os.path.relpath(p, ARGS.srcdir) for p in
                  glob.glob(os.path.join(ARGS.srcdir, "charts", "profileguard", "templates", "*"))]
        files += [os.path.relpath(p, ARGS.srcdir) for p in
                  glob.glob(os.path.join(ARGS.srcdir, "examples", "**", "*.yaml"), recursive=True)]
        texts = {f: open(os.path.join(ARGS.srcdir, f), encoding="utf-8").read() for f in files
                 if os.path.exists(os.path.join(ARGS.srcdir, f))}
        texts["profileguard help"] = help_text(ARGS.binary)
        for cmd in commands(ARGS.binary):
            texts[f"profileguard help {cmd}"] = help_text(ARGS.binary, cmd)
        bad = []
        for name, text in texts.items():
            for no, line in enumerate(text.split("\n"), 1):
                if re.search(r"\bSPEC\b|SPEC\.md|\.\./shared|STYLE\.md", line):
                    bad.append(f"{name}:{no}: {line.strip()}")
        self.assertEqual(bad, [], "user-facing text must stand on its own:\n" + "\n".join(bad))

    def test_every_flag_is_in_the_cli_reference(self):
        cli = open(os.path.join(ARGS.srcdir, "docs", "cli.md"), encoding="utf-8").read()
        missing = []
        cmds = commands(ARGS.binary)
        self.assertIn("check", cmds)
        for cmd in cmds:
            doc = section(cli, cmd)
            own = os.path.join(ARGS.srcdir, "docs", f"{cmd}.md")
            if os.path.exists(own):
                doc += open(own, encoding="utf-8").read()
            if not doc:
                missing.append(f"{cmd}: no '## {cmd}' section in docs/cli.md (nor docs/{cmd}.md)")
                continue
            text = help_text(ARGS.binary, cmd)
            flags = re.findall(r"^\s+(?:-\w, )?(--[a-z][\w-]*)", text.split("flags:", 1)[-1], flags=re.M)
            self.assertTrue(flags, f"no flags parsed from profileguard help {cmd}")
            for flag in flags:
                if flag != "--help" and not re.search(rf"`(?:-\w, )?{re.escape(flag)}[ `]", doc):
                    missing.append(f"{cmd}: {flag}")
        self.assertEqual(missing, [], "flags of `profileguard help` missing from docs/cli.md:\n"
                         + "\n".join(missing))

    def test_every_chart_value_is_in_the_chart_reference(self):
        chart = open(os.path.join(ARGS.srcdir, "docs", "chart.md"), encoding="utf-8").read()
        stack, missing = [], []
        for line in open(os.path.join(ARGS.srcdir, "charts", "profileguard", "values.yaml"), encoding="utf-8"):
            m = re.match(r"^(\s*)([\w.-]+):(.*)$", line)
            if not m or line.lstrip().startswith("#"):
                continue
            indent, key = len(m.group(1)), m.group(2)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path = ".".join([k for _, k in stack] + [key])
            if not m.group(3).split("#")[0].strip():
                stack.append((indent, key))
            if f"`{path}`" not in chart:
                missing.append(path)
        self.assertEqual(missing, [], "values.yaml keys missing from docs/chart.md:\n" + "\n".join(missing))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--srcdir", required=True)
    p.add_argument("--binary", required=True)
    ARGS, rest = p.parse_known_args()
    ARGS.srcdir = os.path.abspath(ARGS.srcdir)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
