#!/usr/bin/env python3
"""Checks that ringcast's layers point one way (docs/ARCHITECTURE.md, "Layers").

Reads every `#include "..."` of every C++ source and header under the repository, maps the
including file and the included one to their top-level folders, and fails, naming the file,
the line and the include, when
  * a folder includes a folder above it or beside it in LAYERS (a sideways include between
    net/ and http/, say, would tie two layers together that stand on their own),
  * a folder that LAYERS does not name holds a source or is included (a new folder is placed
    in the order before it is used), or
  * the folders' include graph has a cycle (implied by the first rule; reported on its own so
    the message names the whole loop).
Includes of headers that are not in the repository (<...>, "toml++/...") are not ringcast's.

Run by ctest as `layers`; `--self-test` checks the checker on a small tree made up for it
(ctest `layers.self_test`). Usage: tools/check_layers.py [--root DIR] [--self-test]
"""
import argparse
import io
import os
import re
import sys
import tempfile


# Lowest first. A folder may include its own folder and any folder of a lower row.
LAYERS = [
    ["base"],               # assert, log, clock, event ids
    ["alloc"],              # slab of fixed-size records
    ["net", "http"],        # the IO seam; socket-free protocol code
    ["auth"],               # access policy, JWT, CORS, topic scopes (reads http/ requests)
    ["core"],               # shards, topics, chunks, history, fan-out, metrics
    ["redis"],              # the Redis bridge, link, protocol, replay, occupancy
    ["server"],             # start-up, configuration, main
    ["tests", "bench", "tools"],  # what drives or measures the server (may include anything below)
]
# Rows whose folders may include each other: none of them is under the other.
SIBLINGS_MAY_MEET = {"tests", "bench", "tools"}
SOURCE_SUFFIXES = (".cc", ".h", ".cpp", ".hpp", ".c")
SKIP_DIRS = {".git", "build", "node_modules", "__pycache__"}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def rank_of():
    ranks = {}
    for row, folders in enumerate(LAYERS):
        for folder in folders:
            if folder in ranks:
                raise SystemExit(f"layers: {folder}/ is named twice in LAYERS")
            ranks[folder] = row
    return ranks


def sources(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build"))
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, root).replace(os.sep, "/")


def folder_of(path):
    return path.split("/", 1)[0] if "/" in path else ""


def resolve(root, source, target):
    """The repository path an include names, or None if it is not a ringcast file."""
    if os.path.isfile(os.path.join(root, target)):
        return target  # spelled from the root, as ringcast spells them
    beside = os.path.normpath(os.path.join(os.path.dirname(source), target)).replace(os.sep, "/")
    if os.path.isfile(os.path.join(root, beside)):
        return beside  # relative to the including file
    return None


def find_cycle(edges):
    """One cycle of folders in `edges` (folder -> {folder: example}), as a list, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check(root, out=sys.stdout):
    ranks = rank_of()
    order = " <- ".join("{" + ", ".join(r) + "}" if len(r) > 1 else r[0] for r in LAYERS)
    problems = []
    edges = {}  # folder -> {folder: "file:line includes \"x\""}
    files = 0
    for source in sources(root):
        src_folder = folder_of(source)
        if src_folder == "":
            continue  # nothing lives at the root; a stray file there is not a layer
        files += 1
        if src_folder not in ranks:
            problems.append(f"{source}: folder {src_folder}/ is not in the declared order "
                            f"(tools/check_layers.py LAYERS)")
            continue
        with open(os.path.join(root, source), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = resolve(root, source, m.group(1))
                if target is None:
                    continue
                dst_folder = folder_of(target)
                where = f'{source}:{number}: #include "{m.group(1)}"'
                if dst_folder == src_folder:
                    continue
                edges.setdefault(src_folder, {}).setdefault(dst_folder, where)
                if dst_folder not in ranks:
                    problems.append(f"{where}: folder {dst_folder or '(root)'}/ is not in the "
                                    f"declared order")
                elif ranks[dst_folder] > ranks[src_folder]:
                    problems.append(f"{where}: points up: {src_folder}/ is below "
                                    f"{dst_folder}/ (order: {order})")
                elif ranks[dst_folder] == ranks[src_folder] and src_folder not in SIBLINGS_MAY_MEET:
                    problems.append(f"{where}: points sideways: {src_folder}/ and "
                                    f"{dst_folder}/ are independent layers (order: {order})")
    cycle = find_cycle(edges)
    if cycle:
        steps = [f"  {a}/ -> {b}/ ({edges[a][b]})" for a, b in zip(cycle, cycle[1:])]
        problems.append("include cycle between folders: " + " -> ".join(cycle) + "\n" +
                        "\n".join(steps))
    for p in problems:
        print(f"layers: {p}", file=out)
    if problems:
        print(f"layers: FAILED, {len(problems)} problem(s)", file=out)
        return 1
    graph = "; ".join(f"{a} -> {', '.join(sorted(b))}" for a, b in sorted(edges.items()))
    print(f"layers: ok, {files} files; order {order}\nlayers: folders include: {graph}", file=out)
    return 0


def self_test():
    """The checker passes a good tree and fails each kind of bad include, naming it."""
    def tree(files):
        root = tempfile.mkdtemp(prefix="check_layers.")
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        return root

    good = {"base/assert.h": "#pragma once\n",
            "net/io.h": '#include "base/assert.h"\n#include <vector>\n',
            "http/parser.cc": '#include "parser.h"\n#include "base/assert.h"\n',
            "http/parser.h": "#pragma once\n",
            "core/shard.cc": '#include "net/io.h"\n#include "http/parser.h"\n',
            "tests/t.cc": '#include "core/shard.cc"\n#include "bench/b.h"\n',
            "bench/b.h": "#pragma once\n"}
    cases = [
        ("good", {}, None),
        ("up", {"net/bad.cc": '#include "core/shard.cc"\n'},
         'net/bad.cc:1: #include "core/shard.cc": points up'),
        ("sideways", {"net/bad.cc": '#include "http/parser.h"\n'},
         'net/bad.cc:1: #include "http/parser.h": points sideways'),
        ("cycle", {"base/bad.h": '#include "net/io.h"\n'}, "include cycle between folders"),
        ("undeclared", {"misc/x.cc": '#include "base/assert.h"\n'},
         "folder misc/ is not in the declared order"),
    ]
    failures = 0
    for name, extra, expect in cases:
        out = io.StringIO()
        rc = check(tree({**good, **extra}), out)
        text = out.getvalue()
        ok = (rc == 0) if expect is None else (rc == 1 and expect in text)
        print(f"self-test {name}: {'ok' if ok else 'WRONG'}")
        if not ok:
            print(text)
            failures += 1
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    return check(os.path.abspath(args.root))


if __name__ == "__main__":
    sys.exit(main())
