#!/usr/bin/env python3
"""Per-package (and, with --classes, per-class) summary of PIT's mutations.xml.

score = (killed + timed out + memory error + run error) / all mutants, as PIT computes it; the
time-outs are shown apart because under load a surviving mutant can time out instead.
With --survivors, prints every surviving / uncovered mutant (class, line, mutator, description).

    scripts/pit-summary.py [--classes] [--survivors] MODULE_OR_MUTATIONS_XML...
"""
import collections, os, sys, xml.etree.ElementTree as ET

args = [a for a in sys.argv[1:] if not a.startswith("--")]
classes = "--classes" in sys.argv
survivors = "--survivors" in sys.argv
KILLED = ("KILLED", "TIMED_OUT", "MEMORY_ERROR", "RUN_ERROR")
for arg in args:
    path = arg if arg.endswith(".xml") else os.path.join(arg, "target", "pit-reports", "mutations.xml")
    if not os.path.exists(path):
        print(f"{arg}: no report")
        continue
    text = open(path, encoding="utf-8").read()
    unfinished = "</mutations>" not in text  # PIT writes mutations.xml as it goes
    if unfinished:
        text = (text[:text.rfind("</mutation>") + len("</mutation>")] if "</mutation>" in text else text.split("<mutation ")[0]) + "</mutations>"
        if "<mutations" not in text:
            print(f"{path}: nothing finished yet")
            continue
    root = ET.fromstring(text)
    by = collections.defaultdict(collections.Counter)
    rows = []
    for m in root:
        cls = m.findtext("mutatedClass")
        key = cls if classes else cls.rsplit(".", 1)[0]
        st = m.get("status")
        by[key][st] += 1
        if st in ("SURVIVED", "NO_COVERAGE"):
            rows.append((cls, int(m.findtext("lineNumber")), m.findtext("mutatedMethod"),
                         m.findtext("mutator").rsplit(".", 1)[-1], m.findtext("description"), st))
    print(f"{path}{' (unfinished)' if unfinished else ' (partial)' if root.get('partial') == 'true' else ''}")
    print(f"  {'package' if not classes else 'class':52s} {'score':>6s} {'killed':>6s} {'t/o':>4s} {'surv':>5s} {'nocov':>5s} {'all':>5s}")
    for key in sorted(by):
        c = by[key]
        n = sum(c.values())
        k = sum(c[s] for s in KILLED)
        print(f"  {key:52s} {100.0 * k / n:5.1f}% {c['KILLED']:6d} {c['TIMED_OUT'] + c['MEMORY_ERROR'] + c['RUN_ERROR']:4d} "
              f"{c['SURVIVED']:5d} {c['NO_COVERAGE']:5d} {n:5d}")
    if survivors:
        for r in sorted(rows):
            print(f"    {r[5]:11s} {r[0].rsplit('.', 1)[-1]}:{r[1]} {r[2]} {r[3]}: {r[4]}")
