#!/usr/bin/env python3
"""Find dependency cycles between the source files of one module.

A file A depends on a file B when A's object uses a symbol that B's object
defines.  This looks at what the code really calls, so a cycle hidden
behind one shared header (every file including a header that declares
every other file's exports) is still found.  Cycles are reported as the
strongly connected components of that graph, each with one example edge
(symbol) per dependency.

    scripts/check-deps.py OBJDIR [OBJDIR...]     # e.g. build/controller/CMakeFiles/ipop-controller.dir
    scripts/check-deps.py --graph OBJDIR          # also print every edge
    scripts/check-deps.py a.c.o b.c.o ...         # exactly these objects (a build dir
                                                  # may keep objects of deleted files)

Exits 0 when there is no cycle, 1 when there is one, 2 on usage errors.
"""
import os
import subprocess
import sys


def objects(dirs):
    out = []
    for d in dirs:
        if d.endswith(".o") and os.path.isfile(d):
            out.append(d)
            continue
        for root, _, files in os.walk(d):
            for f in files:
                if f.endswith(".o"):
                    out.append(os.path.join(root, f))
    return sorted(out)


def symbols(obj):
    """(defined, undefined) global symbol names of one object file."""
    res = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True)
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


def name_of(obj):
    base = os.path.basename(obj)
    return base[:-2] if base.endswith(".o") else base


def sccs(nodes, edges):
    """Tarjan's algorithm, iterative."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                result.append(sorted(comp))
    return result


def main(argv):
    graph = False
    dirs = []
    for a in argv[1:]:
        if a == "--graph":
            graph = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            dirs.append(a)
    if not dirs:
        print(__doc__, file=sys.stderr)
        return 2
    objs = objects(dirs)
    if not objs:
        print("check-deps: no object files under " + " ".join(dirs), file=sys.stderr)
        return 2
    defs, uses = {}, {}
    owner = {}
    for o in objs:
        n = name_of(o)
        d, u = symbols(o)
        defs[n], uses[n] = d, u
        for s in d:
            owner.setdefault(s, n)
    edges = {}
    for n, u in uses.items():
        for s in u:
            m = owner.get(s)
            if m and m != n:
                edges.setdefault(n, {}).setdefault(m, s)
    if graph:
        for n in sorted(edges):
            for m in sorted(edges[n]):
                print(f"{n} -> {m}  ({edges[n][m]})")
    cycles = [c for c in sccs(sorted(defs), edges) if len(c) > 1]
    if not cycles:
        print(f"check-deps: {len(objs)} files, no dependency cycle")
        return 0
    for c in cycles:
        print("check-deps: cycle among " + ", ".join(c))
        for n in c:
            for m in sorted(edges.get(n, {})):
                if m in c:
                    print(f"    {n} -> {m}  (uses {edges[n][m]})")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
