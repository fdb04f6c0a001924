#!/usr/bin/python3
"""The key tables of the user's guide (docs/commands/*.md), from the program itself.

    /usr/bin/python3 scripts/docs/options.py BUILD/bin/physfit          # rewrite the tables
    /usr/bin/python3 scripts/docs/options.py BUILD/bin/physfit --check  # exit 1 if one differs

Each page holds its table between the lines `<!-- keys: COMMAND -->` and `<!-- end keys -->`;
the options every command has are in docs/commands/README.md (`<!-- keys: common -->`). The
table gives each key its INI place, type, default and meaning, as `physfit COMMAND --help`
prints them. The test cli.manual.KeysMatchTheCode fails when a table and the code differ."""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.join(HERE, "..", "..", "docs", "commands")
COMMANDS = ["import", "fc", "phonons", "lasso", "train", "evaluate", "predict", "plot",
            "inspect", "selfcheck", "generate", "transition"]
COMMON = ["help", "config", "log-level", "quiet", "json", "output-lock", "progress-interval"]
TYPES = {"text": "text", "real": "real", "int": "integer", "bool": "true/false",
         "real,...": "list of reals", "int,...": "list of integers", "text,...": "list of texts"}


def options(binary, command):
    """[(key, type, default, meaning, notes)] from `physfit COMMAND --help`."""
    text = subprocess.run([binary, command, "--help"], check=True, capture_output=True,
                          text=True).stdout
    entries, current = [], None
    for line in text.splitlines():
        m = re.match(r"^  --([a-z0-9.-]+)(?: <([^>]+)>)?\s+(.*)$", line)
        if m:
            current = [m.group(1), m.group(2) or "", m.group(3).strip()]
            entries.append(current)
        elif current is not None and line.startswith("      ") and line.strip():
            current[2] += " " + line.strip()
        elif not line.strip():
            current = None
    out = []
    for key, kind, help_text in entries:
        help_text = re.sub(r"\s+", " ", help_text)
        notes = []
        if "[command line only]" in help_text:
            help_text = help_text.replace("[command line only]", "").strip()
            notes.append("command line only")
        default = ""
        m = re.search(r"\(default: ?(.*)\)$", help_text)
        if m:
            default = m.group(1)
            help_text = help_text[:m.start()].strip()
            default = "`%s`" % default if default else "''"
        if help_text.endswith("(required)"):
            help_text = help_text[:-len("(required)")].strip()
            default = "required"
        if not kind and not default:
            default = "`false`"  # a flag: on when given
        out.append((key, "flag" if not kind else TYPES.get(kind, kind), default, help_text,
                    notes))
    return out


def place(key):
    section, _, name = key.rpartition(".")
    return "`[%s]` `%s`" % (section, name) if section else "`%s`" % name


def table(rows):
    lines = ["| option | in an INI file | type | default | meaning |",
             "|---|---|---|---|---|"]
    for key, kind, default, meaning, notes in rows:
        where = "command line only" if "command line only" in notes else place(key)
        meaning = meaning.replace("|", "\\|")
        lines.append("| `--%s` | %s | %s | %s | %s |" % (key, where, kind, default or "unset",
                                                          meaning))
    return "\n".join(lines)


def tables(binary):
    """{page name: table text}."""
    out = {}
    common = None
    for command in COMMANDS:
        rows = options(binary, command)
        if common is None:
            common = [r for r in rows if r[0] in COMMON]
        out[command] = table([r for r in rows if r[0] not in COMMON])
    out["common"] = table(common)
    return out


def page_of(name):
    return os.path.join(DOCS, "README.md" if name == "common" else name + ".md")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    check = "--check" in sys.argv[2:]
    differ = []
    for name, text in tables(sys.argv[1]).items():
        path = page_of(name)
        page = open(path).read()
        m = re.search(r"(<!-- keys: %s -->\n)(.*?)(<!-- end keys -->)" % re.escape(name), page,
                      re.S)
        if not m:
            sys.exit("%s: no '<!-- keys: %s -->' ... '<!-- end keys -->' block" % (path, name))
        new = page[:m.start(2)] + text + "\n" + page[m.end(2):]
        if new != page:
            differ.append(os.path.relpath(path))
            if not check:
                open(path, "w").write(new)
    if check and differ:
        sys.exit("the key tables differ from the code in: " + ", ".join(differ) +
                 " (run scripts/docs/options.py BIN)")
    print("%s: %d pages%s" % (os.path.basename(sys.argv[0]), len(COMMANDS) + 1,
                              ", rewrote " + ", ".join(differ) if differ and not check else ""))


if __name__ == "__main__":
    main()
