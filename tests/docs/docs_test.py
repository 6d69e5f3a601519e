#!/usr/bin/env python3
"""The repository stands on its own: docs links resolve, nothing cites outside it.

Usage: docs_test.py SOURCE_ROOT

1. Every relative markdown link in the repository's *.md files points at a file
   or folder that exists inside the repository, and a `#fragment` into a
   markdown file names one of its headings (GitHub's anchor rules).
2. No source, build or doc file cites the product contract or the engineering
   guide that lived outside the repository (by section mark, by name, or by a
   path into the folder beside it); each pointer goes into docs/ instead.
   ALLOWED lists files allowed to cite them (none).
"""
import os
import re
import sys

# Files that may still carry old citations (being rewritten elsewhere).
ALLOWED = set()
ALLOWED_DIRS = ()

SKIP_DIRS = {".git", "subprojects", "node_modules", "__pycache__"}
SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".c", ".py", ".md", ".sh", ".toml", ".txt", ".map")
SOURCE_NAMES = {"meson.build", "meson_options.txt", "dev"}

# Spelled in pieces so that this file does not match itself.
CITATION = re.compile(r"\b" + "SP" + r"EC\b|\b" + "GU" + r"IDE\b|\.\./" + "shared")
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def repo_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [
            d for d in dirnames
            if d not in SKIP_DIRS and not (rel_dir == "." and d.startswith("build"))
            and not os.path.exists(os.path.join(dirpath, d, "meson-private"))
        ]
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            yield rel


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen = {}
    out = set()
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


def links(path):
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            # Inline code spans are not links.
            line = re.sub(r"`[^`]*`", "", line)
            for m in LINK.finditer(line):
                yield number, m.group(1) or m.group(2)


def check_links(root, files):
    problems = []
    anchor_cache = {}
    root_real = os.path.realpath(root)
    for rel in files:
        if not rel.endswith(".md"):
            continue
        path = os.path.join(root, rel)
        for number, target in links(path):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # an address outside (https:, mailto:): not a file
            file_part, _, fragment = target.partition("#")
            if file_part.startswith("/"):
                problems.append(f"{rel}:{number}: absolute link {target!r}: make it relative")
                continue
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            dest_real = os.path.realpath(dest)
            if not (dest_real == root_real or dest_real.startswith(root_real + os.sep)):
                problems.append(f"{rel}:{number}: link {target!r} leaves the repository")
                continue
            if not os.path.exists(dest):
                problems.append(f"{rel}:{number}: link {target!r}: no such file {os.path.relpath(dest, root)}")
                continue
            if fragment and dest.endswith(".md"):
                if dest not in anchor_cache:
                    anchor_cache[dest] = anchors(dest)
                if fragment not in anchor_cache[dest]:
                    problems.append(f"{rel}:{number}: link {target!r}: no heading #{fragment} in "
                                    f"{os.path.relpath(dest, root)}")
    return problems


def check_citations(root, files):
    problems = []
    me = os.path.relpath(os.path.realpath(__file__), os.path.realpath(root))
    for rel in files:
        name = os.path.basename(rel)
        if not (rel.endswith(SOURCE_SUFFIXES) or name in SOURCE_NAMES):
            continue
        if rel == me or rel in ALLOWED or rel.startswith(ALLOWED_DIRS):
            continue
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                lines = f.readlines()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(lines, 1):
            if CITATION.search(line):
                problems.append(f"{rel}:{number}: cites a text outside the repository "
                                f"(point into docs/ instead): {line.strip()}")
    return problems


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = sys.argv[1]
    files = sorted(repo_files(root))
    if "README.md" not in files or not any(f.startswith("docs/") for f in files):
        print(f"docs_test: {root} does not look like the reins source tree (no README.md or docs/)",
              file=sys.stderr)
        return 2
    problems = check_links(root, files) + check_citations(root, files)
    for p in problems:
        print(p)
    if problems:
        print(f"docs_test: {len(problems)} problem(s)")
        return 1
    print(f"docs_test: {sum(f.endswith('.md') for f in files)} markdown files, links resolve; no outside citations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
