# Copyright 2026 The txformers authors. BSD-3-Clause.
"""`txformers push`: publish a checkpoint folder and its model card to the Hugging Face Hub."""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ._common import UserError

# Never uploaded: caches, editor and OS files, training state (reported as skipped).
SKIP_DIRS = ("__pycache__", ".*", "checkpoint-*", "runs", "wandb", "logs")
SKIP_FILES = (".*", "*.pyc", "*.pyo", "*.lock", "*.tmp", "*.swp", "*~", "events.out.tfevents*")
SKIP_FILES += ("optimizer.pt", "scheduler.pt", "rng_state*.pth", "scaler.pt", "trainer_state.json")  # training state
# Refused: pickled weights (a published checkpoint is safetensors; pickles run code when loaded).
PICKLES = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.joblib")


@dataclass
class Staged:
    """What :func:`stage_checkpoint` wrote: files (relative path, bytes), skipped files, path rewrites."""

    folder: Path
    files: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rewrites: list[tuple[str, str, str, str]] = field(default_factory=list)  # file, JSON pointer, old, new
    notes: list[str] = field(default_factory=list)


def upload_plan(checkpoint: Path) -> tuple[list[Path], list[str]]:
    """The files of ``checkpoint`` that would be uploaded (README.md excluded: the card replaces it) and
    the skipped ones. Raises :class:`UserError` for pickled weights or broken links."""
    files, skipped = [], []
    for path in sorted(checkpoint.rglob("*")):
        relative = path.relative_to(checkpoint)
        parents = relative.parts[:-1]
        if any(fnmatch.fnmatch(part, pattern) for part in parents for pattern in SKIP_DIRS):
            if path.is_file():
                skipped.append(relative.as_posix())
            continue
        if path.is_dir():
            continue
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in SKIP_FILES):
            skipped.append(relative.as_posix())
            continue
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in PICKLES):
            raise UserError(
                f"{checkpoint}/{relative.as_posix()} is a pickle file; save the weights as safetensors "
                "(save_pretrained does) and remove it before pushing"
            )
        if path.is_symlink() and not path.exists():
            raise UserError(f"{checkpoint}/{relative.as_posix()} is a broken link")
        if relative.as_posix() == "README.md":
            continue
        files.append(path)
    return files, skipped


def _dump_like(original: str, value) -> str:
    indent = None
    for line in original.splitlines()[1:2]:
        indent = len(line) - len(line.lstrip(" ")) or None
    return json.dumps(value, indent=indent, ensure_ascii=False) + ("\n" if original.endswith("\n") else "")


def stage_checkpoint(checkpoint: Path, card: Path, out: Path) -> Staged:
    """Copy what would be uploaded into ``out``: the checkpoint files and ``card`` as ``README.md``.

    JSON files have their absolute local paths rewritten repository-relative (each rewrite is
    recorded); other text files are only checked. Nothing else is written.

    ```python
    >>> checkpoint, card = Path("checkpoints/metascdrug-meta"), Path("model_cards/metascdrug-meta.md")
    >>> staged = stage_checkpoint(checkpoint, card, Path("out"))
    >>> [r[:2] for r in staged.rewrites][:1]
    [('training_args.json', '/data_dir')]
    ```
    """
    from ..cards import find_local_paths, portable, portable_text, scan_local_paths

    files, skipped = upload_plan(checkpoint)
    staged = Staged(out, skipped=skipped)
    out.mkdir(parents=True, exist_ok=True)
    for path in files:
        relative = path.relative_to(checkpoint).as_posix()
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".json", ".jsonl"):
            text = path.read_text(encoding="utf-8")
            try:
                records = (
                    [json.loads(text)]
                    if path.suffix == ".json"
                    else [json.loads(x) for x in text.splitlines() if x.strip()]
                )
            except json.JSONDecodeError as error:
                raise UserError(f"{path} is not valid JSON: {error}") from None
            found = [(pointer, old) for record in records for pointer, old in scan_local_paths(record)]
            if found:
                staged.rewrites += [(relative, pointer, old, portable_text(old)) for pointer, old in found]
                if path.suffix == ".json":
                    text = _dump_like(text, portable(records[0]))
                else:
                    text = "".join(json.dumps(portable(r), ensure_ascii=False) + "\n" for r in records)
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(path, target)
            if path.suffix in (".py", ".txt", ".tsv", ".md", ".csv", ".yaml", ".yml"):
                local = find_local_paths(path.read_text(encoding="utf-8", errors="replace"))
                if local:
                    staged.notes.append(
                        f"{relative} mentions local path(s) {', '.join(sorted(set(local))[:3])} (not JSON: left as is)"
                    )
    card_text = card.read_text(encoding="utf-8")
    (out / "README.md").write_text(card_text, encoding="utf-8")
    staged.files = sorted((p.relative_to(out).as_posix(), p.stat().st_size) for p in out.rglob("*") if p.is_file())
    for relative, _ in staged.files:  # the staged JSON must be clean
        if relative.endswith((".json", ".jsonl")):
            left = find_local_paths((out / relative).read_text(encoding="utf-8"))
            if left:
                raise UserError(f"{relative} still holds absolute local paths after rewriting: {left[:3]}")
    return staged


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _check_out(out: Path, checkpoint: Path, planned: set[str], overwrite: bool) -> None:
    out_r, checkpoint_r = out.resolve(), checkpoint.resolve()
    if out_r == checkpoint_r or checkpoint_r in out_r.parents or out_r in checkpoint_r.parents:
        raise UserError(f"--out {out} overlaps the checkpoint {checkpoint}; choose a folder outside it")
    if not out.exists():
        return
    if not overwrite:
        raise UserError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    if not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    foreign = sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.relative_to(out).as_posix() not in planned
    )
    if foreign:
        raise UserError(
            f"{out} holds files that are not part of this upload ({', '.join(foreign[:3])}); "
            "it is not replaced: choose another --out"
        )


def cmd_push(args: argparse.Namespace) -> int:
    """Publish a checkpoint folder with its model card to the Hugging Face Hub.

    The upload is exactly: the checkpoint's files (no caches, no training state, no pickles) and the
    card as README.md, with the absolute local paths of its JSON files rewritten repository-relative.
    The card (CHECKPOINT/README.md, or --card) must be a valid Hub card with measured results
    (`txformers card` renders one). --dry-run writes that folder (--out) and lists it instead of uploading.
    """
    from ..cards import CardError, find_local_paths, validate_card

    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_dir():
        raise UserError(f"checkpoint folder {checkpoint} does not exist")
    if not (checkpoint / "config.json").is_file():
        raise UserError(f"{checkpoint} has no config.json: not a saved model (save_pretrained writes one)")
    try:
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        validate_repo_id(args.repo_id)
    except HFValidationError as error:
        raise UserError(f"--repo-id {args.repo_id!r} is not a valid repository id (ORG/NAME): {error}") from None
    card = Path(args.card) if args.card else checkpoint / "README.md"
    if not card.is_file():
        raise UserError(
            f"no model card: {card} does not exist. Render one with `txformers card RESULTS.json --kind KIND "
            f"--name NAME --out {checkpoint / 'README.md'}` or pass --card FILE"
        )
    try:
        parsed = validate_card(card)
    except CardError as error:
        raise UserError(f"model card {card} is invalid: {error}") from None
    local = find_local_paths(card.read_text(encoding="utf-8"))
    if local:
        raise UserError(f"model card {card} names local paths ({', '.join(local[:3])}); re-render it or edit them out")
    files, _ = upload_plan(checkpoint)
    planned = {p.relative_to(checkpoint).as_posix() for p in files} | {"README.md"}
    out = Path(args.out) if args.out else None
    if out is not None:
        _check_out(out, checkpoint, planned, args.overwrite)
    temporary = tempfile.TemporaryDirectory(prefix="txformers-push-") if out is None else None
    try:
        folder = out if out is not None else Path(temporary.name) / checkpoint.resolve().name
        if out is not None and out.exists():
            shutil.rmtree(out)
        staged = stage_checkpoint(checkpoint, card, folder)
        results = parsed.data.eval_results or []
        print(
            f"{'dry run: ' if args.dry_run else ''}{args.repo_id} <- {checkpoint} "
            f"(card {card}: valid, model-index {len(results)} metric(s))"
        )
        for relative, size in staged.files:
            print(f"  {_size(size):>9}  {relative}")
        print(f"  {_size(sum(s for _, s in staged.files)):>9}  total, {len(staged.files)} files")
        if staged.rewrites:
            print(f"absolute local paths rewritten in the uploaded JSON ({len(staged.rewrites)}):")
            for relative, pointer, old, new in staged.rewrites:
                print(f"  {relative} {pointer}: {old} -> {new}")
        else:
            print("no absolute local paths in the JSON files")
        for note in staged.notes:
            print(f"note: {note}")
        if staged.skipped:
            more = " ..." if len(staged.skipped) > 8 else ""
            print(f"not uploaded ({len(staged.skipped)}): {', '.join(staged.skipped[:8])}{more}")
        if args.dry_run:
            print(
                f"wrote {folder} (what would be uploaded)" if out is not None else "pass --out DIR to keep the folder"
            )
            return 0
        from huggingface_hub import create_repo, upload_folder

        try:
            url = create_repo(args.repo_id, private=args.private, exist_ok=True, repo_type="model")
            commit = upload_folder(
                repo_id=args.repo_id,
                folder_path=str(folder),
                repo_type="model",
                commit_message=args.message or f"Upload {checkpoint.resolve().name} with txformers",
            )
        except Exception as error:  # network, authentication, permissions: one clear line
            raise UserError(f"upload to {args.repo_id} failed: {type(error).__name__}: {error}") from None
        print(f"uploaded to {url} ({getattr(commit, 'commit_url', commit)})")
        return 0
    finally:
        if temporary is not None:
            temporary.cleanup()


def add_parser(commands: argparse._SubParsersAction) -> None:
    push = commands.add_parser(
        "push",
        help="publish a checkpoint and its model card to the Hugging Face Hub (--dry-run: stage it locally)",
        description=cmd_push.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  txformers push checkpoints/cellformer-pretrained --repo-id my-org/cellformer-pretrained "
        "--dry-run --out outputs/push\n"
        "  txformers push runs/splice-sites/model --repo-id my-org/splice-sites "
        "--card model_cards/splice-sites.md --private\n",
    )
    push.add_argument("checkpoint", help="checkpoint folder (save_pretrained output)")
    push.add_argument("--repo-id", required=True, help="Hub repository, ORG/NAME")
    push.add_argument("--card", help="model card to upload as README.md (default: CHECKPOINT/README.md)")
    push.add_argument(
        "--dry-run", action="store_true", help="write/list the folder that would be uploaded; upload nothing"
    )
    push.add_argument("--out", help="folder to write the staged upload to (kept); default: a temporary folder")
    push.add_argument("--overwrite", action="store_true", help="replace an earlier staged folder at --out")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.add_argument("--message", help="commit message")
    push.set_defaults(handler=cmd_push)
