"""Writes examples/minigenes.fa: synthetic pre-mRNA minigenes made by the project (no third-party data).

Each minigene is exon - intron - exon with the canonical splice signals placed by design:
a GTRAGT donor after the first exon, a UACUAAC-like branchpoint 18-40 nt upstream of the
acceptor, a polypyrimidine tract and a YAG acceptor; the remaining bases are drawn at random
(seeded) with a human-like GC content. They exercise the tokenizer and the models on
realistic-looking input of several lengths, including one longer than a 1024-nt window.

    python examples/make_examples.py
"""

from pathlib import Path

import numpy as np

rng = np.random.default_rng(20261122)


def random_bases(n: int, gc: float = 0.42) -> str:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(rng.choice(list("ACGT"), size=n, p=p))


def pyrimidines(n: int) -> str:
    return "".join(rng.choice(list("CT"), size=n))


def minigene(exon1: int, intron: int, exon2: int) -> str:
    body = intron - 6 - 7 - 25 - 3
    return (
        random_bases(exon1 - 3) + "CAG"  # exon 1, ending in the consensus CAG|
        + "GTAAGT"  # donor
        + random_bases(body)
        + "TACTAAC"  # branchpoint
        + random_bases(7) + pyrimidines(18)  # spacer, polypyrimidine tract
        + "CAG"  # acceptor
        + "G" + random_bases(exon2 - 1)  # exon 2
    )


def main() -> None:
    records = {
        "minigene_short exon1=1-60 intron=61-260 exon2=261-340": minigene(60, 200, 80),
        "minigene_medium exon1=1-120 intron=121-720 exon2=721-880": minigene(120, 600, 160),
        "minigene_long exon1=1-150 intron=151-2350 exon2=2351-2500": minigene(150, 2200, 150),
    }
    path = Path(__file__).with_name("minigenes.fa")
    with path.open("w") as handle:
        for name, sequence in records.items():
            handle.write(f">{name}\n")
            for i in range(0, len(sequence), 60):
                handle.write(sequence[i : i + 60] + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
