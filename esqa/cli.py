"""The `esqa` command. Each command parses options, calls one library function
and renders its result; errors become one line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from esqa import __version__, settings
from esqa.render import answer_text, describe_changes, hit_text, json_text, terminal_text

F = TypeVar("F", bound=Callable[..., Any])

corpus_option = click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False),
    default=lambda: settings.current().corpus,
    help="Folder of article files (*.txt, searched recursively). "
    "[default: $ESQA_CORPUS, else the one the index was built from, else seeds]",
)
index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=lambda: settings.current().index,
    help=f"Index location.  [default: $ESQA_INDEX, else {settings.DEFAULT_INDEX}]",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
refresh_option = click.option(
    "--refresh",
    is_flag=True,
    help="First update the index if the corpus changed since it was built (incremental).",
)


def _errors_to_exit(func: F) -> F:
    """Turn esqa's own errors into one line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from esqa.errors import EsqaError

        try:
            return func(*args, **kwargs)
        except EsqaError as exc:
            _say(f"esqa: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("esqa: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _say(message: str, err: bool = False) -> None:
    """Print one line for people: names, reasons and messages can hold text from
    files (escape sequences, bidirectional controls), so it is made terminal-safe."""
    click.echo(terminal_text(message), err=err)


class _ProgressBar:
    """tqdm bars on stderr, one per stage, created when the library says how much work there is."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, total: int, stage: str) -> Callable[[int], None]:
        from tqdm import tqdm

        self.close()
        unit = "file" if stage == "chunking" else "text"
        # disable=None: no bar when stderr is not a terminal (a log, a pipe, CI).
        self.bar = tqdm(
            total=total, desc=stage, unit=unit, file=sys.stderr, leave=False, disable=None
        )
        return self.bar.update

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esqa")
def cli() -> None:
    """Answer questions about a folder of news articles, citing file, paragraph and lines."""
    _own_lines_only()


class _EsqaOrErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".")[0] == "esqa" or record.levelno >= logging.ERROR


def _own_lines_only() -> None:
    """Let esqa's own notes reach the terminal, and other libraries' errors only.

    A root handler of esqa's own also keeps a library's `logging.basicConfig()`
    (onnxruntime's quantiser calls it) from sending every library's debug
    lines to the terminal.
    """
    root = logging.getLogger()
    if any(isinstance(h, _Own) for h in root.handlers):
        return
    handler = _Own()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_EsqaOrErrors())
    root.addHandler(handler)


class _Own(logging.StreamHandler):
    """The handler `_own_lines_only` installs (recognised so it is installed once).

    It writes to whatever `sys.stderr` is when a line is logged, not to the
    stream of the moment it was made (a test runner swaps stderr per command).
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@cli.group("index")
def index_group() -> None:
    """Build and inspect the search index."""


@index_group.command("build")
@corpus_option
@index_option
@click.option("--full", is_flag=True, help="Re-chunk and re-embed everything, reusing nothing.")
@click.option(
    "--optimize",
    is_flag=True,
    help="Also merge every segment into one, without deleted chunks (no embedding).",
)
@click.option(
    "--precision",
    type=click.Choice(settings.PRECISIONS),
    default=None,
    help="Precision of a new (or --full) index's vectors: int8 builds 2x faster, fp32 "
    f"gives sentence-transformers' vectors.  [default: $ESQA_PRECISION, else "
    f"{settings.DEFAULT_PRECISION}]",
)
@click.option(
    "--store",
    default=None,
    metavar="SPEC",
    help="Where vectors and terms are searched: 'embedded' (files in the index) or "
    "milvus://HOST:PORT/COLLECTION (a Milvus server; credentials from $ESQA_MILVUS_TOKEN).  "
    "[default: the index's own, else embedded]",
)
@_errors_to_exit
def index_build(
    corpus: Path | None,
    index_dir: Path,
    full: bool,
    optimize: bool,
    precision: str | None,
    store: str | None,
) -> None:
    """Build or update the index of every article in the corpus.

    Incremental by default: only files whose size or modification time
    changed are read; new and changed files go into a new segment of the
    index, text the index already holds is not embedded again, and segments
    merge when there are too many small ones. The result searches as with
    --full. The new index replaces the old one atomically: a build that fails
    or is killed leaves the previous index as it was.
    """
    from esqa import api

    _echo_build(
        _with_progress(
            lambda bar: api.build(
                corpus,
                index_dir,
                progress=bar,
                full=full,
                precision=precision,
                optimize=optimize,
                store=store,
            )
        )
    )


@index_group.command("verify")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@_errors_to_exit
def index_verify(index_dir: Path, as_json: bool) -> None:
    """Check every index file against its checksum.

    Loading checks every file's size, but hashes only files of up to 32 MiB:
    the larger ones are memory-mapped and read only where a question needs
    them. This command hashes them all; exit code 2 names the damaged file.
    """
    from esqa import api

    report = api.verify(index_dir)
    if as_json:
        click.echo(json_text(report.to_dict(), indent=2))
        return
    _say(
        f"{report.index}: all {report.files} files ({report.bytes / 1e6:,.1f} MB, "
        f"{report.chunks:,} chunks) match their checksums ({report.seconds:.1f} s)"
    )


def _with_progress(work: Callable[[Any], Any]) -> Any:
    bar = _ProgressBar()
    try:
        return work(bar)
    finally:
        bar.close()


def _echo_build(report: Any) -> None:
    for warning in report.warnings:
        _say(f"esqa: warning: {warning}", err=True)
    if report.incremental:
        work = f"reused {report.reused:,} chunks, embedded {report.embedded:,}"
    else:
        work = f"embedded all {report.embedded:,}"
    if report.embedded_sentences:
        work += f"; {report.embedded_sentences:,} sentences"
    segments = f"{report.segments:,} segment{'s' if report.segments != 1 else ''}"
    if report.deleted:
        segments += f", {report.deleted:,} replaced chunks deleted"
    if report.merged:
        segments += f", {report.merged:,} segments merged"
    _say(
        f"indexed {report.files:,} files: {report.articles:,} articles, "
        f"{report.paragraphs:,} paragraphs ({report.duplicates:,} near-duplicates indexed once), "
        f"{report.chunks:,} chunks ({work}; {segments}) in {report.seconds:.1f} s -> {report.index}"
    )


def _load(corpus: Path | None, index_dir: Path, refresh: bool = False) -> Any:
    from esqa import api

    note = ""
    if not api.index_exists(index_dir):
        where = api.corpus_of(index_dir, corpus)
        note = f"esqa: no index at {index_dir}; building it from {where}/ first"

    def progress(bar: _ProgressBar) -> Callable[[int, str], Callable[[int], None]]:
        def stage(total: int, name: str) -> Callable[[int], None]:
            # Said when the build starts its work, not before: a build that
            # cannot start (a read-only disk) is then one error line alone.
            nonlocal note
            if note:
                _say(note, err=True)
                note = ""
            return bar(total, name)

        return stage

    qa = _with_progress(
        lambda bar: api.load(index_dir, corpus, progress=progress(bar), refresh=refresh)
    )
    if refresh and qa.built is not None:
        click.echo(
            f"esqa: updated the index: reused {qa.built.reused:,} chunks, "
            f"embedded {qa.built.embedded:,}",
            err=True,
        )
    if qa.changes is not None and qa.changes.stale:
        note = describe_changes(qa.changes, index_dir, qa.corpus)
        if qa.refresh_skipped:
            note += f"; not updated now: {qa.refresh_skipped}, so this is from the index as it was"
        else:
            note += ", or pass --refresh"
        _say(f"esqa: warning: {note}", err=True)
    return qa


@cli.command()
@click.argument("query")
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 100),
    default=settings.SEARCH_HITS,
    show_default=True,
    help="Passages to show.",
)
@json_option
@refresh_option
@corpus_option
@index_option
@_errors_to_exit
def search(
    query: str, k: int, as_json: bool, refresh: bool, corpus: Path | None, index_dir: Path
) -> None:
    """Print the passages that best match QUERY, with file, paragraph and lines."""
    qa = _load(corpus, index_dir, refresh)
    hits = qa.search(query, k)
    if as_json:
        click.echo(json_text([h.to_dict() for h in hits], indent=2))
        return
    if not hits:
        click.echo("no passage matches")
    for rank, hit in enumerate(hits, start=1):
        click.echo(hit_text(rank, hit))


@cli.command()
@click.argument("question", required=False)
@click.option(
    "--jsonl",
    "jsonl",
    type=click.File("rb"),
    help="Answer one question per line of this file ('-' for stdin; UTF-8, or UTF-16 with "
    "a byte-order mark); print JSON lines.",
)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 50),
    default=settings.ANSWER_PASSAGES,
    show_default=True,
    help="Passages the composer reads.",
)
@json_option
@refresh_option
@corpus_option
@index_option
@_errors_to_exit
def ask(
    question: str | None,
    jsonl: Any,
    k: int,
    as_json: bool,
    refresh: bool,
    corpus: Path | None,
    index_dir: Path,
) -> None:
    """Answer QUESTION with verbatim sentences, each cited by file, paragraph and lines.

    Example: esqa ask "what is ESPA's fourth pillar"
    """
    if (question is None) == (jsonl is None):
        raise click.UsageError("give a QUESTION or --jsonl FILE, not both and not neither")
    if jsonl is not None:
        from esqa.question_file import answer_lines, question_lines

        # A file is decoded whole here: one that cannot be is an error before any work.
        lines = question_lines(jsonl, getattr(jsonl, "name", "<stdin>"))
        qa = _load(corpus, index_dir, refresh)
        for record in answer_lines(qa, lines, k):
            click.echo(json_text(record))
        return
    qa = _load(corpus, index_dir, refresh)
    answer = qa.ask(question, k)
    if as_json:
        click.echo(json_text(answer.to_dict(), indent=2))
        return
    click.echo(answer_text(answer, bold=sys.stdout.isatty()))


@cli.command("eval")
@click.argument("qa_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--verbose", is_flag=True, help="List every miss.")
@click.option(
    "--explain",
    is_flag=True,
    help="Also say where answers are lost: right, wrong sentence or declined with the "
    "answer in the passages read, or not in them (a retrieval miss).",
)
@json_option
@corpus_option
@index_option
@_errors_to_exit
def eval_command(
    qa_file: Path,
    verbose: bool,
    explain: bool,
    as_json: bool,
    corpus: Path | None,
    index_dir: Path,
) -> None:
    """Answer every question of QA_FILE (JSON lines) and print the grader's metrics."""
    from esqa.evaluate import evaluate, read_questions

    questions = read_questions(qa_file)
    qa = _load(corpus, index_dir)
    report = evaluate(qa, questions, qa.corpus, explain=explain)
    if as_json:
        click.echo(json_text(report.to_dict(), indent=2))
        return
    if verbose:
        for miss in report.misses:
            _say(f"MISS {miss['id']} {miss['why']}")
    for name in (
        "answerable", "unanswerable", "answer_accuracy", "citation_at_1", "citation_at_3",
        "abstain_accuracy", "false_abstain_rate", "quote_fidelity", "confidence_auroc",
        "latency_median_ms", "latency_p95_ms",
    ):  # fmt: skip
        click.echo(f"{name}={getattr(report, name)}")
    if report.classes:
        click.echo(f"\nwhere the {report.answerable} answerable questions end up:")
        for name, value in report.classes.items():
            click.echo(f"  {name:<40} {value:.3f}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--replace", is_flag=True, help="Overwrite a corpus file of the same name and other content."
)
@json_option
@corpus_option
@index_option
@_errors_to_exit
def add(
    paths: tuple[Path, ...], replace: bool, as_json: bool, corpus: Path | None, index_dir: Path
) -> None:
    """Copy article files (or every *.txt in a folder) into the corpus and update the index.

    A file keeps its name; a folder's files keep their paths inside it. Files
    that are not text, hidden, symbolic links or named to leave the corpus are
    refused; a file of the same name is kept unless --replace. Exits 1 if any
    file was refused.

    Example: esqa add ~/Downloads/new_article.txt
    """
    from esqa import api
    from esqa.errors import EsqaError

    result = _with_progress(
        lambda bar: api.add(paths, corpus, index_dir, replace=replace, progress=bar)
    )
    if as_json:
        click.echo(json_text(result.to_dict(), indent=2))
    else:
        for f in result.files:
            name = f.source or str(f.origin)
            why = f": {f.reason}" if f.reason else ""
            _say(f"{f.action:<9} {name}{why}")
        if result.build is not None:
            _echo_build(result.build)
        else:
            _say(f"nothing to add; the index {index_dir} is up to date")
    if result.refused:
        raise EsqaError(
            f"{len(result.refused)} of {len(result.files)} files were refused (reasons above); "
            "fix them or leave them out"
        )


@cli.command()
@json_option
@corpus_option
@index_option
@_errors_to_exit
def info(as_json: bool, corpus: Path | None, index_dir: Path) -> None:
    """Show where the index is, what it holds, and whether the corpus changed since."""
    from esqa import api

    details = api.info(index_dir, corpus)
    stale = details.changes is not None and details.changes.stale
    note = describe_changes(details.changes, index_dir, details.corpus) if stale else ""
    if as_json:
        if stale:  # the text output says it on stdout; JSON readers may not look
            _say(f"esqa: warning: {note}", err=True)
        click.echo(json_text(details.to_dict(), indent=2))
        return
    counts = details.counts
    if details.changes is None:
        state = f"unknown: corpus {details.corpus} not found"
    else:
        state = f"STALE: {note}" if stale else "up to date"
    build = details.build
    how = "full"
    if build.get("incremental"):
        how = (
            f"incremental: reused {build['reused_chunks']:,} chunks, "
            f"embedded {build['embedded_chunks']:,}"
        )
    rows = [
        ("index", f"{details.index} -> {details.directory}"),
        ("corpus", f"{details.corpus} ({state})"),
        ("built", f"{details.created} by esqa {details.esqa_version} ({how})"),
        ("model", f"{details.model} ({details.dimension} dimensions)"),
        ("files", str(counts.get("files"))),
        ("articles", str(counts.get("articles"))),
        (
            "paragraphs",
            f"{counts.get('paragraphs')} ({counts.get('duplicate_paragraphs')} near-duplicates)",
        ),
        (
            "chunks",
            f"{counts.get('chunks')} (at most {details.chunking.get('max_tokens')} word pieces)",
        ),
        ("dense", ", ".join(f"{k}={v}" for k, v in details.dense.items())),
        ("lexical", ", ".join(f"{k}={v}" for k, v in details.lexical.items())),
        *_segment_rows(details),
    ]
    rows += [("skipped", f"{s}: {r}") for s, r in details.skipped.items()]
    for name, value in rows:
        _say(f"{name:<11}{value}")


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback lets other machines read the articles.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port, printed at start).",
)
@corpus_option
@index_option
@_errors_to_exit
def serve(host: str, port: int, corpus: Path | None, index_dir: Path) -> None:
    """Serve a web page and JSON API over the index: ask, search, and open every citation.

    Pages: / (ask), /search, /corpus, /article; JSON: /api/ask?q=..., /api/search?q=...,
    /api/info, /api/openapi.json. Read-only. Ctrl-C stops it.

    Example: esqa serve --port 8000, then open http://127.0.0.1:8000/
    """
    from esqa.errors import EsqaError

    try:
        from esqa.web.server import serve as serve_web
    except ModuleNotFoundError as exc:
        raise EsqaError(
            f"esqa serve needs {(exc.name or 'starlette').split('.')[0]}, which is not installed",
            hint="install the web extra: pip install 'esqa[web]'",
        ) from None
    qa = _load(corpus, index_dir)

    def announce(where: Any) -> None:
        if not where.loopback:
            click.echo(
                f"esqa: note: listening on {where.host}, not only this machine: anyone who can "
                "reach it can read every indexed article; --host 127.0.0.1 keeps it local",
                err=True,
            )
        click.echo(f"esqa: serving {qa.index.path} at {where.url} (Ctrl-C stops)", err=True)

    serve_web(qa, host, port, announce)


def _segment_rows(details: Any, shown: int = 10) -> list[tuple[str, str]]:
    """The segments, the deleted chunks and what merging will do, as `esqa info` rows."""
    segments = details.segments
    graphs = sum(1 for s in segments if not s["exact"])
    rows = [
        (
            "segments",
            f"{len(segments)} ({graphs} graph, {len(segments) - graphs} exact); "
            f"{details.deleted:,} deleted chunks",
        )
    ]
    for s in segments[:shown]:
        last = s["base"] + s["chunks"] - 1
        rows.append(
            (
                f"  {s['name']}",
                f"chunk ids {s['base']:,}-{last:,}: {s['chunks'] - s['deleted']:,} live, "
                f"{s['deleted']:,} deleted, {s['sources']:,} files, {s['dense']}",
            )
        )
    if len(segments) > shown:
        rows.append(("", f"... and {len(segments) - shown} more"))
    due = details.merge.get("due") or []
    if due:
        groups = "; ".join(" + ".join(group) for group in due)
        merge = f"due: {groups}; the next build merges them (or run: esqa index build --optimize)"
    else:
        merge = f"none due; next {details.merge.get('next', '')}"
    rows.append(("merge", merge))
    return rows


def main() -> None:
    cli()
