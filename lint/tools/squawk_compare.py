#!/usr/bin/env python3
"""Compares `kiln lint` with squawk, finding by finding, on a directory of PostgreSQL migrations.

Not part of the test suite and never run in CI: it needs squawk (`pip install squawk-cli`) and a
built `kiln`, and the migration files come from other projects, which kiln does not vendor.
docs/lint.md ("kiln and squawk") records the results and explains every difference.

    python3 lint/tools/squawk_compare.py DIR [--kiln target/debug/kiln] [--render KEY=VALUE]

DIR holds one `.sql` file per migration, applied in file-name order. Each file becomes a kiln
revision (revising the one before; `-- kiln:transaction false` when the file's first lines say
`notransaction`, as sql-migrate's `-- +migrate Up notransaction` does) and every revision is
locked, as in a real history where each migration was reviewed while the ones before it were
deployed. `--render` replaces template text in both tools' input (supabase/auth's migrations are
Go templates: `--render '{{ index .Options "Namespace" }}=auth'`).

Findings are matched per statement: squawk and kiln point at different words of the same
statement. squawk's rules are mapped to kiln's by SQUAWK_TO_KILN; a rule mapped to None has no
kiln counterpart (and is listed as such).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

SQUAWK_TO_KILN = {
    "require-concurrent-index-creation": "require-concurrent-index",
    "require-concurrent-index-deletion": "require-concurrent-index-drop",
    "adding-foreign-key-constraint": "foreign-key-not-valid",
    "constraint-missing-not-valid": "check-not-valid|foreign-key-not-valid",
    "disallowed-unique-constraint": "unique-without-index",
    "adding-serial-primary-key-field": "unique-without-index",
    "adding-not-nullable-field": "set-not-null",
    "adding-required-field": "add-column-required",
    "adding-field-with-default": "volatile-default",
    "changing-column-type": "column-type-change",
    "renaming-column": "rename-column|two-phase-column-change",
    "renaming-table": "rename-table",
    "ban-drop-column": "drop-column|two-phase-column-change",
    "ban-drop-table": "drop-table",
    "prefer-text-field": "prefer-text",
    "ban-char-field": "prefer-text",
    "prefer-bigint-over-int": "prefer-bigint-pk",
    "prefer-bigint-over-smallint": "prefer-bigint-pk",
    "prefer-identity": "prefer-bigint-pk",
    "prefer-timestamptz": "prefer-timestamptz",
    "prefer-timestamp-tz": "prefer-timestamptz",
    "prefer-robust-stmts": "prefer-robust-stmts",
    "transaction-nesting": "nested-transaction",
    "ban-concurrent-index-creation-in-transaction": "concurrently-in-transaction",
    "require-timeout-settings": "lock-timeout",
    "require-lock-timeout": "lock-timeout",
    "require-statement-timeout": None,
    "ban-drop-not-null": None,
    "ban-drop-view": None,
    "ban-drop-constraint": None,
    "ban-drop-database": None,
    "ban-truncate-cascade": None,
    "ban-create-domain-with-constraint": None,
    "ban-alter-domain-with-add-constraint": None,
}


def statements(text):
    """(first line, last line) of each statement, 0-based, read like PostgreSQL's lexer: quotes,
    dollar quotes and comments hide semicolons."""
    out, i, n, start, line, begun = [], 0, len(text), None, 0, False
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
            continue
        if c.isspace():
            i += 1
            continue
        if not begun:
            begun, start = True, line
        if c == "'":
            j = i + 1
            while j < n:
                if text[j] == "'" and text.startswith("''", j):
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            line += text.count("\n", i, j)
            i = j + 1
            continue
        m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])
        if m:
            tag = m.group(0)
            j = text.find(tag, i + len(tag))
            j = n if j < 0 else j + len(tag)
            line += text.count("\n", i, j)
            i = j
            continue
        if c == ";":
            out.append((start, line))
            begun = False
        i += 1
    if begun:
        out.append((start, line))
    return out


def stmt_of(spans, line):
    for k, (a, b) in enumerate(spans):
        if a <= line <= b:
            return k
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--kiln", default="target/debug/kiln")
    ap.add_argument("--squawk", default="squawk")
    ap.add_argument("--render", action="append", default=[])
    ap.add_argument("--pg-version", default="16")
    a = ap.parse_args()
    kiln = os.path.abspath(a.kiln)
    names = sorted(f for f in os.listdir(a.dir) if f.endswith(".sql"))
    work = tempfile.mkdtemp(prefix="kiln-squawk-")
    src, mig = os.path.join(work, "src"), os.path.join(work, "migrations")
    os.makedirs(src)
    os.makedirs(mig)
    with open(os.path.join(work, "kiln.toml"), "w") as f:
        # The inputs are upgrades only: the downgrade rules would report every missing one.
        f.write('dialect = "postgres"\n[lint]\nallow = ["destructive-without-downgrade", '
                '"downgrade-misses-column"]\n')
    texts, offsets, kiln_file = {}, {}, {}
    for i, name in enumerate(names):
        with open(os.path.join(a.dir, name)) as f:
            text = f.read()
        for r in a.render:
            key, _, value = r.partition("=")
            text = text.replace(key, value)
        texts[name] = text
        with open(os.path.join(src, name), "w") as f:
            f.write(text)
        rid = "r%03d" % i
        header = ["-- kiln:revision " + rid]
        if i:
            header.append("-- kiln:revises r%03d" % (i - 1))
        if "notransaction" in "\n".join(text.splitlines()[:3]):
            header.append("-- kiln:transaction false")
        header.append("-- kiln:upgrade")
        offsets[name] = len(header)
        fname = "%s_%s.sql" % (rid, re.sub(r"[^a-z0-9]+", "_", name[:-4].lower())[:40])
        kiln_file[fname] = name
        with open(os.path.join(mig, fname), "w") as f:
            f.write("\n".join(header) + "\n" + text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_") and k != "DATABASE_URL"}
    subprocess.run([kiln, "lock"], cwd=work, env=env, check=True, capture_output=True)
    k = subprocess.run(
        [kiln, "lint", "--all", "--format", "json", "--postgres-version", a.pg_version],
        cwd=work, env=env, capture_output=True, text=True,
    )
    if k.returncode not in (0, 9):
        sys.exit("kiln lint failed: " + k.stderr)
    s = subprocess.run(
        [a.squawk, "--reporter", "json", "--pg-version", a.pg_version + ".0"]
        + [os.path.join(src, n) for n in names],
        capture_output=True, text=True,
    )
    spans = {n: statements(t) for n, t in texts.items()}
    found = collections.defaultdict(lambda: {"kiln": [], "squawk": []})
    for f in json.loads(k.stdout):
        name = kiln_file[os.path.basename(f["path"])]
        line = f["line"] - 1 - offsets[name]
        found[(name, stmt_of(spans[name], line))]["kiln"].append(f["rule"])
    squawk_all = json.loads(s.stdout or "[]")
    for f in squawk_all:
        name = os.path.basename(f["file"])
        found[(name, stmt_of(spans[name], f["line"]))]["squawk"].append(f["rule_name"])
    matched, squawk_only, kiln_only, no_counterpart = [], [], [], []
    for (name, st), v in sorted(found.items()):
        left, used = list(v["kiln"]), []
        for rule in v["squawk"]:
            target = SQUAWK_TO_KILN.get(rule, "?")
            if target is None:
                no_counterpart.append((name, st, rule))
                continue
            hit = next((r for r in left if r in target.split("|")), None)
            if hit:
                left.remove(hit)
                used.append((hit, rule))
                matched.append((name, st, rule, hit))
                continue
            # One kiln finding answers several squawk rules about the same thing (a serial key
            # is both prefer-identity and prefer-bigint-over-int for squawk).
            same = next((k for k, r in used if k in target.split("|") and r != rule), None)
            if same:
                matched.append((name, st, rule, same + " (same finding)"))
            else:
                squawk_only.append((name, st, rule))
        kiln_only.extend((name, st, r) for r in left)
    line_of = lambda name, st: spans[name][st][0] + 1 if st >= 0 else 0
    print("files: %d, squawk findings: %d, kiln findings: %d" % (
        len(names), len(squawk_all), len(json.loads(k.stdout))))
    print("matched: %d" % len(matched))
    for title, rows in (("squawk only", squawk_only), ("kiln only", kiln_only),
                        ("squawk rules without a kiln counterpart", no_counterpart)):
        print("\n%s: %d" % (title, len(rows)))
        for name, st, rule in rows:
            print("  %s:%d  %s" % (name, line_of(name, st), rule))
    count = lambda rows, i: dict(collections.Counter(r[i] for r in rows))
    print("\nmatched by rule:", dict(collections.Counter(m[2] + " -> " + m[3] for m in matched)))
    print("squawk only by rule:", count(squawk_only, 2))
    print("kiln only by rule:", count(kiln_only, 2))
    print("no counterpart by rule:", count(no_counterpart, 2))


if __name__ == "__main__":
    main()
