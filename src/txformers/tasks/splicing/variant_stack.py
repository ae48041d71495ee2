"""Stacked splice variant-effect model on MaPSy pairs: LightGBM over hand features and our own models' outputs.

Features per WT / mutant pair (rows of :func:`~txformers.datasets.mapsy_pairs.read_pairs`), every one computed
from the pair itself with txformers models (never from SpliceAI or MMSplice):

* :func:`site_model_features`: a per-nucleotide splice-site model (``SpliceBertForTokenClassification`` with
  ``none / acceptor / donor`` labels, e.g. ``checkpoints/splicebert-small-splice-sites-nt``) run on WT and
  mutant: acceptor / donor probability at the exon's boundaries in each and their change (probability and
  logit), the largest acceptor / donor gain and loss anywhere (SpliceAI-style delta scores, from our model),
  and the change at the variant.
* :func:`mlm_features`: the masked LM's zero-shot scores (KL-context, KL at the variant and at the splice
  sites, delta-p), the LM's log-odds of the alternative over the reference base in the WT context, and the
  summed KL over the exon and over the flanks.
* :data:`~txformers.tasks.splicing.variant_model.HAND_FEATURES` (hexamer tables learnt inside the training
  rows only) and, optionally, the fine-tuned ``SpliceBertForVariantEffect`` head's score (out-of-fold in
  training: never a prediction on a pair the head was trained on).

:class:`StackedVariantModel` holds the LightGBM booster, the hexamer tables and the feature names; it saves
to / loads from ``stacked.json`` + ``stacked_lightgbm_seed*.txt`` next to a variant-effect checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import variant_model as vm

SITE_FEATURES = (
    "site_acceptor_wt",
    "site_acceptor_mut",
    "site_acceptor_delta",
    "site_acceptor_delta_logit",
    "site_donor_wt",
    "site_donor_mut",
    "site_donor_delta",
    "site_donor_delta_logit",
    "site_acceptor_gain_max",
    "site_acceptor_loss_max",
    "site_donor_gain_max",
    "site_donor_loss_max",
    "site_abs_delta_max",
    "site_exon_delta_sum",
    "site_variant_delta",
)
MLM_FEATURES = (
    "mlm_kl_context",
    "mlm_kl_variant",
    "mlm_delta_p",
    "mlm_acceptor_kl",
    "mlm_donor_kl",
    "mlm_splice_site_delta_p",
    "mlm_log_odds_alt_ref",
    "mlm_kl_exon_sum",
    "mlm_kl_flank_sum",
    "mlm_kl_window10_sum",
)
HEAD_FEATURE = "variant_head_score"
STACK_FILE = "stacked.json"
BOUNDARY_SLACK = 2
"""Boundary probabilities are the largest within this many nt of the annotated position (conventions differ by 1)."""


def _logit(p, eps: float = 1e-4):
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def _near(track: np.ndarray, position: int, slack: int = BOUNDARY_SLACK) -> float:
    low, high = max(position - slack, 0), min(position + slack + 1, len(track))
    return float(track[low:high].max()) if high > low else float("nan")


def site_tracks(model, tokenizer, sequences: Sequence[str], batch_size: int = 64) -> list[np.ndarray]:
    """``(L, 2)`` acceptor / donor probabilities per sequence from a per-nucleotide splice-site model
    (windows of ``config.window_size`` nt, stride 1/4 window, each position from its most central window)."""
    import torch

    from ...models.splicebert.scoring_splicebert import per_nucleotide_outputs

    label2id = {str(k).lower(): int(v) for k, v in model.config.label2id.items()}
    columns = [label2id["acceptor"], label2id["donor"]]
    window = getattr(model.config, "window_size", None)
    stride = max(1, window // 4) if window else None
    return per_nucleotide_outputs(
        model,
        tokenizer,
        list(sequences),
        window_size=window,
        stride=stride,
        batch_size=batch_size,
        select=lambda outputs: torch.softmax(outputs.logits.float(), dim=-1)[..., columns],
    )


def site_features_from_tracks(row: dict, wt: np.ndarray, mut: np.ndarray) -> list[float]:
    """:data:`SITE_FEATURES` of one pair from its WT and mutant ``(L, 2)`` acceptor / donor tracks."""
    start, end, pos = row["exon_start"], row["exon_end"], row["variant_pos"]
    delta = mut - wt
    acc_wt, acc_mut = _near(wt[:, 0], start), _near(mut[:, 0], start)
    don_wt, don_mut = _near(wt[:, 1], end - 1), _near(mut[:, 1], end - 1)
    return [
        acc_wt,
        acc_mut,
        acc_mut - acc_wt,
        float(_logit(acc_mut) - _logit(acc_wt)),
        don_wt,
        don_mut,
        don_mut - don_wt,
        float(_logit(don_mut) - _logit(don_wt)),
        float(delta[:, 0].max()),
        float(-delta[:, 0].min()),
        float(delta[:, 1].max()),
        float(-delta[:, 1].min()),
        float(np.abs(delta).max()),
        float(delta[start:end].sum()),
        float(delta[max(pos - 3, 0) : pos + 4].sum()),
    ]


def site_model_features(model, tokenizer, rows: Sequence[dict], batch_size: int = 64) -> np.ndarray:
    """The :data:`SITE_FEATURES` matrix of scorable rows (WT and mutant read in one batch stream)."""
    sequences = [r["wt_sequence"] for r in rows] + [r["mut_sequence"] for r in rows]
    tracks = site_tracks(model, tokenizer, sequences, batch_size)
    n = len(rows)
    return np.asarray([site_features_from_tracks(r, tracks[i], tracks[n + i]) for i, r in enumerate(rows)], float)


CNN_FEATURES = tuple("cnn_" + name[len("site_") :] for name in SITE_FEATURES)
"""The :data:`SITE_FEATURES` from txformers' dilated CNN splice-site model (``tasks/splicing/cnn_baseline.py``)."""


def load_cnn(folder):
    """A :class:`~txformers.tasks.splicing.cnn_baseline.SpliceCNN` saved by ``finetune_splice_nt --model cnn``
    (``config.json`` with its hyper-parameters, ``model.safetensors``), in eval mode."""
    from safetensors.torch import load_file

    from .cnn_baseline import SpliceCNN

    folder = Path(folder)
    model = SpliceCNN(**json.loads((folder / "config.json").read_text()))
    model.load_state_dict(load_file(folder / "model.safetensors"))
    return model.eval()


def cnn_model_features(model, rows: Sequence[dict], batch_size: int = 64) -> np.ndarray:
    """The :data:`CNN_FEATURES` matrix: the CNN (labels none / acceptor / donor) on WT and mutant, whole sequences
    (its ``same`` padding reads beyond the ends as N)."""
    import torch

    codes = {base: 6 + i for i, base in enumerate("ACGT")}
    sequences = [r["wt_sequence"] for r in rows] + [r["mut_sequence"] for r in rows]
    tracks: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            chunk = sequences[start : start + batch_size]
            longest = max(len(q) for q in chunk)
            ids = torch.full((len(chunk), longest), 5, dtype=torch.long)  # 5: read as N
            for i, q in enumerate(chunk):
                ids[i, : len(q)] = torch.tensor([codes.get(b, 5) for b in q.upper()])
            probabilities = torch.softmax(model(ids).logits.float(), dim=-1)[..., 1:3].numpy()
            tracks.extend(probabilities[i, : len(q)] for i, q in enumerate(chunk))
    n = len(rows)
    return np.asarray([site_features_from_tracks(r, tracks[i], tracks[n + i]) for i, r in enumerate(rows)], float)


def mlm_features_from_probabilities(row: dict, p_wt: np.ndarray, p_mut: np.ndarray) -> list[float]:
    """:data:`MLM_FEATURES` of one pair from the LM's ``(L, 4)`` A/C/G/T probabilities on WT and mutant."""
    from ...models.splicebert.scoring_splicebert import NUCLEOTIDES, kl_profile, variant_scores

    start, end, pos = row["exon_start"], row["exon_end"], row["variant_pos"]
    scores = variant_scores(p_wt, p_mut, row["wt_sequence"], row["mut_sequence"], pos, sites=(start, end))
    kl = kl_profile(p_wt, p_mut)
    ref, alt = NUCLEOTIDES.find(row["ref"]), NUCLEOTIDES.find(row["alt"])
    log_odds = float(np.log(p_wt[pos, alt] + 1e-6) - np.log(p_wt[pos, ref] + 1e-6)) if min(ref, alt) >= 0 else np.nan
    near = kl[max(pos - 10, 0) : pos + 11].sum() - kl[pos]
    return [
        scores["kl_context"],
        scores["kl_variant"],
        scores["delta_p"],
        scores.get("acceptor_kl", np.nan),
        scores.get("donor_kl", np.nan),
        scores.get("splice_site_delta_p", np.nan),
        log_odds,
        float(kl[start:end].sum() - kl[pos]),
        float(kl[:start].sum() + kl[end:].sum()),
        float(near),
    ]


def mlm_features(model, tokenizer, rows: Sequence[dict], batch_size: int = 64) -> np.ndarray:
    """The :data:`MLM_FEATURES` matrix of scorable rows from a SpliceBERT masked LM."""
    from ...models.splicebert.scoring_splicebert import nucleotide_probabilities

    sequences = [r["wt_sequence"] for r in rows] + [r["mut_sequence"] for r in rows]
    probabilities = nucleotide_probabilities(model, tokenizer, sequences, batch_size=batch_size)
    n = len(rows)
    return np.asarray(
        [mlm_features_from_probabilities(r, probabilities[i], probabilities[n + i]) for i, r in enumerate(rows)],
        float,
    )


# ------------------------------------------------------------------------------------------ the stacker
DEFAULT_PARAMS = dict(
    n_estimators=300,
    learning_rate=0.03,
    num_leaves=15,
    min_child_samples=20,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.8,
    reg_lambda=1.0,
    verbose=-1,
    n_jobs=1,
)


KMER_SIZES = (4, 5)
KMER_FEATURES = tuple(
    f"kmer{k}_{kind}" for k in KMER_SIZES for kind in ("destroy", "create", "destroy_min", "create_min", "net")
)


def _kmers(seq: str, pos: int, start: int, end: int, k: int) -> list[str]:
    """The exonic k-mers overlapping ``pos``."""
    return [seq[i : i + k] for i in range(max(start, pos - k + 1), min(pos, end - k) + 1)]


def kmer_tables(rows: Sequence[dict], k: int, prior: float = 10.0) -> dict[str, dict[str, float]]:
    """Exonic k-mer effects learnt from training rows only, as :func:`variant_model.hexamer_scores` for hexamers:
    the shrunken mean log2 allelic ratio (:func:`ratio_target`) of the variants destroying / creating each k-mer."""
    destroy: dict[str, list[float]] = {}
    create: dict[str, list[float]] = {}
    for r, ratio in zip(rows, ratio_target(rows)):
        if not np.isfinite(ratio):
            continue
        args = (r["variant_pos"], r["exon_start"], r["exon_end"], k)
        for kmer in _kmers(r["wt_sequence"], *args):
            destroy.setdefault(kmer, []).append(ratio)
        for kmer in _kmers(r["mut_sequence"], *args):
            create.setdefault(kmer, []).append(ratio)
    return {
        name: {kmer: float(np.sum(v) / (len(v) + prior)) for kmer, v in table.items()}
        for name, table in (("destroy", destroy), ("create", create))
    }


def kmer_features(rows: Sequence[dict], tables: dict[str, dict[str, dict[str, float]]]) -> np.ndarray:
    """:data:`KMER_FEATURES` of rows from :func:`kmer_tables` per k (keys ``"4"``, ``"5"``)."""
    out = []
    for r in rows:
        values = []
        for k in KMER_SIZES:
            table = tables[str(k)]
            args = (r["variant_pos"], r["exon_start"], r["exon_end"], k)
            destroy = [table["destroy"].get(m, 0.0) for m in _kmers(r["wt_sequence"], *args)] or [0.0]
            create = [table["create"].get(m, 0.0) for m in _kmers(r["mut_sequence"], *args)] or [0.0]
            values += [sum(destroy), sum(create), min(destroy), min(create), sum(create) - sum(destroy)]
        out.append(values)
    return np.asarray(out, dtype=float).reshape(len(rows), len(KMER_FEATURES))


OBJECTIVES = ("classify", "regress", "classify+ratio")


def ratio_target(rows: Sequence[dict]) -> np.ndarray:
    """Mean of the known log2 allelic ratios (vivo, vitro; +-inf clipped to +-6) per row, NaN if neither is known."""
    ratios = np.clip(vm.ratio_targets(rows), -6, 6)
    known = np.isfinite(ratios)
    total = np.where(known, ratios, 0).sum(axis=1)
    return np.where(known.any(axis=1), total / np.maximum(known.sum(axis=1), 1), np.nan)


class StackedVariantModel:
    """LightGBM over hand features + model-derived feature blocks; ``fit`` / ``predict`` / ``save`` / ``load``.

    ``blocks`` names the extra feature blocks (``"site"``, ``"mlm"``, ``"head"``) in the column order
    the caller passes them to :meth:`matrix`; ``"kmer"`` (:data:`KMER_FEATURES`, tables learnt in :meth:`fit`)
    needs nothing from the caller. One booster per seed; :meth:`predict` averages them.
    ``objective``: ``"classify"`` (ESM), ``"regress"`` (the log2 allelic ratio, :func:`ratio_target`; the score is
    ``sigmoid(-predicted ratio)``, a ranking score, not a calibrated probability) or ``"classify+ratio"`` (ESM with
    the predicted ratio as one more feature: out of fold over exon groups in training, from regressors trained on
    all training rows at prediction).
    """

    def __init__(
        self,
        blocks: Sequence[str] = (),
        params: dict | None = None,
        seeds: Sequence[int] = (0,),
        objective: str = "classify",
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.blocks = list(blocks)
        self.params = {**DEFAULT_PARAMS, **(params or {})}
        self.seeds = list(seeds)
        self.objective = objective
        self.tables: dict[str, dict[str, float]] = {}
        self.kmer_tables: dict[str, dict[str, dict[str, float]]] = {}
        self.boosters: dict[str, list] = {}
        self.meta: dict = {}

    @property
    def feature_names(self) -> list[str]:
        names = list(vm.HAND_FEATURES)
        for block in self.blocks:
            blocks = {"site": SITE_FEATURES, "mlm": MLM_FEATURES, "head": (HEAD_FEATURE,), "kmer": KMER_FEATURES}
            blocks["cnn"] = CNN_FEATURES
            names += list(blocks[block])
        return names

    def matrix(self, rows: Sequence[dict], extra: dict[str, np.ndarray]) -> np.ndarray:
        """Hand features (with this model's hexamer tables) followed by ``extra[block]`` for each block."""
        parts = [vm.hand_features(rows, self.tables).reshape(len(rows), len(vm.HAND_FEATURES))]
        for block in self.blocks:
            if block == "kmer":  # learnt from the training rows in fit, like the hexamer tables
                parts.append(kmer_features(rows, self.kmer_tables))
            else:
                parts.append(np.asarray(extra[block], dtype=float).reshape(len(rows), -1))
        return np.hstack(parts)

    def _boosters(self, kind: str, x, y, seeds) -> list:
        import lightgbm

        keep = np.isfinite(y)
        estimator = lightgbm.LGBMClassifier if kind == "classifier" else lightgbm.LGBMRegressor
        return [estimator(**self.params, random_state=seed).fit(x[keep], y[keep]).booster_ for seed in seeds]

    def fit(self, rows: Sequence[dict], extra: dict[str, np.ndarray], labels=None) -> StackedVariantModel:
        self.tables = vm.hexamer_scores(rows)
        if "kmer" in self.blocks:
            self.kmer_tables = {str(k): kmer_tables(rows, k) for k in KMER_SIZES}
        labels = np.asarray([r["label"] for r in rows] if labels is None else labels, dtype=float)
        x = self.matrix(rows, extra)
        self.boosters = {}
        if self.objective == "classify":
            self.boosters["classifier"] = self._boosters("classifier", x, labels, self.seeds)
            return self
        ratio = ratio_target(rows)
        self.boosters["ratio"] = self._boosters("ratio", x, ratio, self.seeds)
        if self.objective == "classify+ratio":
            inner = np.full(len(rows), np.nan)
            groups = np.asarray([r.get("exon_key", str(i)) for i, r in enumerate(rows)])
            for held in _group_splits(groups, 4):
                (booster,) = self._boosters("ratio", x[~held], ratio[~held], self.seeds[:1])
                inner[held] = booster.predict(x[held])
            self.boosters["classifier"] = self._boosters("classifier", np.column_stack([x, inner]), labels, self.seeds)
        return self

    def predict(self, rows: Sequence[dict], extra: dict[str, np.ndarray]) -> np.ndarray:
        """The score per row (higher = more likely an exonic splicing mutation): the mean over the seeds."""
        if not rows:
            return np.zeros(0)
        x = self.matrix(rows, extra)
        if self.objective != "classify":
            ratio = np.mean([b.predict(x) for b in self.boosters["ratio"]], axis=0)
            if self.objective == "regress":
                return 1 / (1 + np.exp(ratio))
            x = np.column_stack([x, ratio])
        return np.mean([np.asarray(b.predict(x), dtype=float) for b in self.boosters["classifier"]], axis=0)

    def save(self, folder) -> None:
        """``stacked.json`` (blocks, parameters, hexamer tables, ``meta``) and one LightGBM text file per booster."""
        from ...io import atomic_write_text

        folder = Path(folder)
        files = {}
        for kind, boosters in self.boosters.items():
            files[kind] = [f"stacked_lightgbm_{kind}_seed{seed}.txt" for seed in self.seeds]
            for name, booster in zip(files[kind], boosters):
                atomic_write_text(folder / name, booster.model_to_string())
        meta = {"blocks": self.blocks, "params": self.params, "seeds": self.seeds, "objective": self.objective}
        meta.update(boosters=files, feature_names=self.feature_names, meta=self.meta, hexamer_tables=self.tables)
        meta["kmer_tables"] = self.kmer_tables
        atomic_write_text(folder / STACK_FILE, json.dumps(meta) + "\n")

    @classmethod
    def load(cls, folder) -> StackedVariantModel:
        import lightgbm

        folder = Path(folder)
        meta = json.loads((folder / STACK_FILE).read_text())
        model = cls(meta["blocks"], meta["params"], meta["seeds"], meta.get("objective", "classify"))
        model.tables, model.meta = meta["hexamer_tables"], meta.get("meta", {})
        model.kmer_tables = meta.get("kmer_tables", {})
        for kind, names in meta["boosters"].items():
            model.boosters[kind] = [lightgbm.Booster(model_str=(folder / name).read_text()) for name in names]
            expected = len(model.feature_names) + (kind == "classifier" and model.objective == "classify+ratio")
            for booster in model.boosters[kind]:
                if booster.num_feature() != expected:
                    raise ValueError(f"{folder}: a booster has {booster.num_feature()} features, expected {expected}")
        return model


def _group_splits(groups: np.ndarray, n_splits: int) -> list[np.ndarray]:
    """Boolean held-out masks of ``n_splits`` folds with each group in exactly one (deterministic, by group hash)."""
    import zlib

    fold = np.array([zlib.crc32(str(g).encode()) % n_splits for g in groups])
    return [fold == f for f in range(n_splits) if (fold == f).any() and (fold != f).any()]


def _model_path(name: str, folder: Path):
    """A feature model named in ``stacked.json``: as given (relative to the working directory or the repository),
    else a bundled checkpoint of that name."""
    from ...hub import CHECKPOINTS, REPO_ROOT

    base = Path(name).name
    for candidate in (Path(name), REPO_ROOT / name, folder / base, CHECKPOINTS / base, folder.parent / base):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the stacked model in {folder} needs the feature model {name}, which is not here")


def score_pairs_stacked(folder, rows: Sequence[dict], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """P(exonic splicing mutation) per row of :func:`~txformers.datasets.mapsy_pairs.read_pairs` from the stacked
    model in a variant-effect checkpoint folder; NaN where the row has a ``reason``."""
    from transformers import AutoModelForMaskedLM, AutoModelForTokenClassification, AutoTokenizer

    folder = Path(folder)
    stack = StackedVariantModel.load(folder)
    scores = np.full(len(rows), np.nan)
    index = [i for i, r in enumerate(rows) if not r.get("reason")]
    if not index:
        return scores
    scorable = [rows[i] for i in index]
    extra: dict[str, np.ndarray] = {}
    if "site" in stack.blocks:
        path = _model_path(stack.meta["site_model"], folder)
        model = AutoModelForTokenClassification.from_pretrained(path).to(device).eval()
        extra["site"] = site_model_features(model, AutoTokenizer.from_pretrained(path), scorable, batch_size)
    if "cnn" in stack.blocks:
        extra["cnn"] = cnn_model_features(load_cnn(_model_path(stack.meta["cnn_model"], folder)), scorable, batch_size)
    if "mlm" in stack.blocks:
        path = _model_path(stack.meta["mlm_model"], folder)
        model = AutoModelForMaskedLM.from_pretrained(path).to(device).eval()
        extra["mlm"] = mlm_features(model, AutoTokenizer.from_pretrained(path), scorable, batch_size)
    if "head" in stack.blocks:
        from ...models.splicebert import SpliceBertForVariantEffect

        model = SpliceBertForVariantEffect.from_pretrained(folder).eval()
        extra["head"] = vm.score_pairs(model, AutoTokenizer.from_pretrained(folder), scorable, batch_size, device)
    scores[index] = stack.predict(scorable, extra)
    return scores


def has_stack(folder) -> bool:
    """Whether a checkpoint folder holds a stacked model (:data:`STACK_FILE`)."""
    return (Path(folder) / STACK_FILE).is_file()


__all__ = [
    "CNN_FEATURES",
    "HEAD_FEATURE",
    "KMER_FEATURES",
    "OBJECTIVES",
    "MLM_FEATURES",
    "SITE_FEATURES",
    "STACK_FILE",
    "StackedVariantModel",
    "cnn_model_features",
    "has_stack",
    "kmer_features",
    "kmer_tables",
    "load_cnn",
    "ratio_target",
    "score_pairs_stacked",
    "mlm_features",
    "mlm_features_from_probabilities",
    "site_features_from_tracks",
    "site_model_features",
    "site_tracks",
]
