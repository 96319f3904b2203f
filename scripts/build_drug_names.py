"""Build ``assistant/data/drug_names.txt``: single-word drug names, generic and brand ("alendronate",
"boniva", "reclast", "prolia"), that general English barely knows.

    .venv/bin/python scripts/build_drug_names.py

Data: the dictionary of the ``drug-named-entity-recognition`` package (Fast Data Science, MIT licence;
built from DrugBank, MeSH, Wikipedia and the NHS drug lists), installed with the dev extras. A name is
kept when it is one alphabetic word of at least ``MIN_LETTERS`` letters and rarer in general English
than a named thing (``RARE_ZIPF``, wordfreq): "insulin" or "caps" are English words anyway, and the
list only has to say that "boniva" is a name, never a typo of "boning". Deterministic: same package
version, same file.
"""

from __future__ import annotations

import bz2
import pickle
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIN_LETTERS = 4
OUT = ROOT / "assistant" / "data" / "drug_names.txt"


def main() -> int:
    from assistant.question import RARE_ZIPF
    from assistant.text import zipf

    source = resources.files("drug_named_entity_recognition") / "drug_ner_dictionary.pkl.bz2"
    with source.open("rb") as raw:
        variants = pickle.load(bz2.open(raw))["drug_variant_to_canonical"]
    names = sorted({v for v in variants if isinstance(v, str) and v.isalpha() and v.islower()
                    and len(v) >= MIN_LETTERS and zipf(v) < RARE_ZIPF})
    header = ("# Single-word drug names (generic and brand) rarer in English than a named thing; built by\n"
              "# scripts/build_drug_names.py from the drug-named-entity-recognition package's dictionary\n"
              "# (Fast Data Science, MIT licence). One per line.\n")
    OUT.write_text(header + "\n".join(names) + "\n", encoding="utf-8")
    print(f"wrote {len(names)} names to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
