"""Donor/acceptor splice-site windows in the EnsembleSplice / Spliceator layout.

Layout read (one folder per species)::

    <data_dir>/{Train,Test}/{Donor,Acceptor}_{Train,Test}_{Positive,Negative}.txt

Each file alternates ``> header`` lines with sequences (602 nt in EnsembleSplice), the candidate
GT (donor) or AG (acceptor) at 0-based positions ``site_position``, ``site_position + 1``
(300-301, i.e. 1-based 301-302). Negatives are decoy GT/AG at the same place.

**Crop.** ``crop=400`` (SpliceBERT/Spliceator) keeps ``raw[site_position + 1 - crop // 2 :][:crop]``
(``raw[101:501]`` for 602-nt windows), so the dinucleotide sits at 0-based ``crop // 2 - 1`` and
``crop // 2`` of the crop (199-200, i.e. 1-based 200-201 of 400): exactly astride the centre, with
199 nt before it and 199 nt after it. ``site_index`` stores that 0-based position.

**Checks.** GT must sit at the donor centre and AG at the acceptor centre (before the crop). Rows
that break it are counted and logged; ``invalid_sites="warn"`` (default) keeps them (the ``motif``
field shows the dinucleotide found), ``"drop"`` drops them, ``"error"`` raises. The counts per split
are in ``builder.invalid_site_counts`` after ``download_and_prepare``.

Example:
    >>> import tempfile, os
    >>> from txformers.datasets.splice_sites import SpliceSitesBuilder
    >>> root = tempfile.mkdtemp()
    >>> for split in ("Train", "Test"):
    ...     os.makedirs(os.path.join(root, "homo_sapiens", split))
    ...     for site, dinuc in (("Donor", "GT"), ("Acceptor", "AG")):
    ...         for kind in ("Positive", "Negative"):
    ...             path = os.path.join(root, "homo_sapiens", split, f"{site}_{split}_{kind}.txt")
    ...             with open(path, "w") as f:
    ...                 for i in range(10):
    ...                     _ = f.write(f"> seq {i}\\n" + "C" * 300 + dinuc + "A" * 300 + "\\n")
    >>> b = SpliceSitesBuilder(data_dir=os.path.join(root, "homo_sapiens"), crop=400,
    ...                        validation_fraction=0.25, cache_dir=os.path.join(root, "cache"))
    >>> b.download_and_prepare()
    >>> ds = b.as_dataset()
    >>> ds["train"].num_rows, ds["validation"].num_rows, ds["test"].num_rows
    (30, 10, 40)
    >>> row = ds["test"][0]
    >>> len(row["sequence"]), row["sequence"][199:201], row["site_index"], row["species"]
    (400, 'GT', 199, 'homo_sapiens')
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import datasets

from .genome import example_key, iter_fasta_records

logger = logging.getLogger(__name__)

_DESCRIPTION = (
    "Labelled donor/acceptor candidate windows (true sites and decoy GT/AG), EnsembleSplice/"
    "Spliceator layout, centrally cropped (400 nt by default), with a stratified validation split."
)

SITE_TYPES = ("donor", "acceptor")
LABEL_NAMES = ["neither", "donor", "acceptor"]
_MOTIFS = {"donor": "GT", "acceptor": "AG"}
_SPLIT_DIRS = {"train": "Train", "test": "Test"}


@dataclass
class SpliceSitesConfig(datasets.BuilderConfig):
    """Configuration of :class:`SpliceSitesBuilder`.

    Args:
        data_dir: a species folder holding ``Train/`` and/or ``Test/``, or a folder of species
            folders (``ensemblesplice_600nt/``).
        species: species folder(s) to read under ``data_dir`` (default: ``data_dir`` itself when
            it holds ``Train/``/``Test/``, else every species folder in it). The ``species`` field
            is the folder name.
        crop: central crop length (even; default 400); ``None`` keeps the full windows.
        site_position: 0-based index of the dinucleotide's first nt in the raw windows (300).
        site_types: ``("donor", "acceptor")`` or one of them.
        validation_fraction: fraction of Train held out as ``validation``, stratified by species,
            site type and positive/negative; 0 for no validation split.
        seed: seed of the validation split.
        invalid_sites: what to do with rows without GT (donor) / AG (acceptor) at the centre:
            ``"warn"`` (keep, log the count), ``"drop"`` (drop, log the count) or ``"error"``.
    """

    species: list[str] | str | None = None
    crop: int | None = 400
    site_position: int = 300
    site_types: tuple[str, ...] = SITE_TYPES
    validation_fraction: float = 0.1
    seed: int = 42
    invalid_sites: str = "warn"

    def __post_init__(self):
        super().__post_init__()
        if self.crop is not None and (self.crop < 2 or self.crop % 2):
            raise ValueError(f"crop must be an even length >= 2 (so the dinucleotide stays centred), got {self.crop}")
        bad = set(self.site_types) - set(SITE_TYPES)
        if bad or not self.site_types:
            raise ValueError(f"site_types must be a non-empty subset of {SITE_TYPES}, got {self.site_types}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.invalid_sites not in ("warn", "drop", "error"):
            raise ValueError(f"invalid_sites must be 'warn', 'drop' or 'error', got {self.invalid_sites!r}")


def crop_window(seq: str, crop: int | None, site_position: int = 300) -> tuple[str, int]:
    """Central crop keeping the dinucleotide at ``site_position`` astride the centre.

    Returns the cropped sequence and the dinucleotide's 0-based index in it.

    >>> crop_window("A" * 300 + "GT" + "C" * 300, 400)[1]
    199
    """
    if crop is None:
        return seq, site_position
    start = site_position + 1 - crop // 2
    if start < 0 or start + crop > len(seq):
        raise ValueError(f"Cannot crop {crop} nt around position {site_position} of a {len(seq)}-nt window")
    return seq[start : start + crop], crop // 2 - 1


class SpliceSitesBuilder(datasets.GeneratorBasedBuilder):
    """Splice-site windows (see the module docstring).

    Fields: ``id`` (``species/file/header``), ``sequence``, ``label`` (0 neither / 1 donor /
    2 acceptor), ``site_type`` (donor/acceptor: which file set the window comes from),
    ``is_site`` (1 = true site, 0 = decoy), ``species``, ``motif`` (the central dinucleotide)
    and ``site_index`` (its 0-based position in ``sequence``).
    Splits: ``train`` and ``validation`` (cut from Train), ``test`` (Test), where present.
    """

    # A single configuration built from keyword arguments (no BUILDER_CONFIGS): the config
    # dataclass then validates them, and ``None`` can override a default.
    BUILDER_CONFIG_CLASS = SpliceSitesConfig

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.invalid_site_counts: dict[str, int] = {}  # filled by download_and_prepare

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=datasets.Features(
                {
                    "id": datasets.Value("string"),
                    "sequence": datasets.Value("string"),
                    "label": datasets.ClassLabel(names=LABEL_NAMES),
                    "site_type": datasets.ClassLabel(names=list(SITE_TYPES)),
                    "is_site": datasets.ClassLabel(names=["no", "yes"]),
                    "species": datasets.Value("string"),
                    "motif": datasets.Value("string"),
                    "site_index": datasets.Value("int32"),
                }
            ),
            homepage="https://github.com/OluwadareLab/EnsembleSplice",
        )

    # ------------------------------------------------------------------ layout
    def _species_dirs(self) -> dict[str, str]:
        root = self.config.data_dir
        if root is None:
            raise ValueError("SpliceSitesBuilder needs `data_dir=` (a species folder with Train/ and Test/)")
        if not os.path.isdir(root):
            raise FileNotFoundError(f"data_dir {root} is not a folder")
        species = self.config.species
        if isinstance(species, str):
            species = [species]
        if any(os.path.isdir(os.path.join(root, d)) for d in _SPLIT_DIRS.values()):
            name = os.path.basename(os.path.normpath(root))
            if species and species != [name]:
                raise ValueError(f"data_dir {root} is the species folder {name!r}, not {species}")
            return {name: root}
        names = species or sorted(
            d for d in os.listdir(root) if any(os.path.isdir(os.path.join(root, d, s)) for s in _SPLIT_DIRS.values())
        )
        if not names:
            raise FileNotFoundError(f"No Train/ or Test/ folder in {root} nor in any folder inside it")
        for name in names:
            if not os.path.isdir(os.path.join(root, name)):
                raise FileNotFoundError(f"Species folder {os.path.join(root, name)} not found")
        return {name: os.path.join(root, name) for name in names}

    def _files(self, split: str) -> list[tuple[str, str, int, str]]:
        """``(species, site_type, is_site, path)`` for one source split; [] if no folder has it."""
        folder = _SPLIT_DIRS[split]
        files = []
        for species, path in self._species_dirs().items():
            split_dir = os.path.join(path, folder)
            if not os.path.isdir(split_dir):
                continue
            for site_type in self.config.site_types:
                for is_site, kind in ((1, "Positive"), (0, "Negative")):
                    file = os.path.join(split_dir, f"{site_type.capitalize()}_{folder}_{kind}.txt")
                    if not os.path.exists(file):
                        raise FileNotFoundError(f"Missing {file} (expected the EnsembleSplice layout)")
                    files.append((species, site_type, is_site, file))
        return files

    def _split_generators(self, dl_manager):
        splits = []
        train_files, test_files = self._files("train"), self._files("test")
        if train_files:
            splits.append(datasets.SplitGenerator(datasets.Split.TRAIN, {"files": train_files, "split": "train"}))
            if self.config.validation_fraction > 0:
                splits.append(
                    datasets.SplitGenerator(datasets.Split.VALIDATION, {"files": train_files, "split": "validation"})
                )
        if test_files:
            splits.append(datasets.SplitGenerator(datasets.Split.TEST, {"files": test_files, "split": "test"}))
        if not splits:
            raise FileNotFoundError(f"No Train/ or Test/ files found under {self.config.data_dir}")
        return splits

    # ------------------------------------------------------------------ examples
    def _read(self, files, split: str) -> list[dict]:
        cfg = self.config
        rows, invalid = [], []
        for species, site_type, is_site, path in files:
            stem = os.path.splitext(os.path.basename(path))[0]
            for header, raw in iter_fasta_records(path):
                raw = raw.upper().replace("U", "T")
                row_id = f"{species}/{stem}/{header}"
                motif = raw[cfg.site_position : cfg.site_position + 2]
                if motif != _MOTIFS[site_type]:
                    invalid.append(row_id)
                    if cfg.invalid_sites != "warn":
                        continue
                try:
                    seq, site_index = crop_window(raw, cfg.crop, cfg.site_position)
                except ValueError as err:
                    raise ValueError(f"{row_id}: {err}") from None
                rows.append(
                    {
                        "id": row_id,
                        "sequence": seq,
                        "label": site_type_label(site_type) if is_site else 0,
                        "site_type": site_type,
                        "is_site": is_site,
                        "species": species,
                        "motif": motif,
                        "site_index": site_index,
                    }
                )
        if invalid:
            message = (
                f"{len(invalid)} {split} window(s) lack GT (donor) / AG (acceptor) at 0-based "
                f"{cfg.site_position}-{cfg.site_position + 1}, e.g. {invalid[:3]}"
            )
            if cfg.invalid_sites == "error":
                raise ValueError(message)
            logger.warning("%s: %s", message, "dropped" if cfg.invalid_sites == "drop" else "kept")
        self.invalid_site_counts["train" if split == "validation" else split] = len(invalid)
        return rows

    def _generate_examples(self, files, split: str) -> Iterator:
        rows = self._read(files, split)
        if split in ("train", "validation") and self.config.validation_fraction > 0:
            from sklearn.model_selection import train_test_split

            strata = [f"{r['species']}|{r['site_type']}|{r['is_site']}" for r in rows]
            train_idx, val_idx = train_test_split(
                list(range(len(rows))),
                test_size=self.config.validation_fraction,
                stratify=strata,
                random_state=self.config.seed,
            )
            keep = sorted(train_idx if split == "train" else val_idx)
            rows = [rows[i] for i in keep]
        for idx, row in enumerate(rows):
            yield example_key(0, idx), row


def site_type_label(site_type: str) -> int:
    """3-class label of a true site: 1 donor, 2 acceptor."""
    return LABEL_NAMES.index(site_type)
