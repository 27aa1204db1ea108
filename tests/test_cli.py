"""The command line: every command, its help, and one-line errors for user mistakes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import UserError
from flows.cli import cli, main

COMMANDS = [
    ["demo"],
    ["ingest"],
    ["run"],
    ["sources"],
    ["sources", "list"],
    ["sources", "import"],
    ["subscribers"],
    ["subscribers", "add"],
    ["subscribers", "remove"],
    ["subscribers", "list"],
    ["subscribers", "prefs"],
    ["status"],
    ["serve"],
    ["serve-unsubscribe"],
    ["themes"],
    ["sql"],
    ["search"],
    ["export"],
    ["snapshot"],
    ["theme"],
    ["theme", "show"],
    ["plot"],
    ["plot", "theme-timeline"],
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str) -> None:
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, _ = _run(capsys, *command, "--help")
    assert code == 0
    assert "Usage: undercurrent" in out
    if command not in (["subscribers"], ["sources"], ["theme"], ["plot"]):
        assert "--db PATH" in out


def test_every_registered_command_is_covered() -> None:
    names = {(name,) for name in cli.commands}
    for group in ("subscribers", "sources", "theme", "plot"):
        names |= {(group, n) for n in cli.commands[group].commands}
    assert names <= {tuple(c) for c in COMMANDS}


@pytest.mark.parametrize(
    "argv",
    [
        ["themes", "--db", "{tmp}"],
        ["sql", "SELECT 1", "--db", "{tmp}/missing/x.duckdb"],
        ["subscribers", "add", "a@example.com", "--db", "{tmp}/no/such/folder/x.duckdb"],
        ["themes", "--db", "{tmp}/never-created.duckdb"],
        ["run", "--date", "2026-13-01", "--db", "{tmp}/x.duckdb"],
        ["run", "--date", "yesterday", "--db", "{tmp}/x.duckdb"],
        ["demo", "--date", "21/11/2026", "--db", "{tmp}/x.duckdb", "--out", "{tmp}/out"],
        ["run", "--sources", "{tmp}/nope.toml", "--db", "{tmp}/x.duckdb"],
        ["ingest", "{tmp}/does-not-exist.html", "--db", "{tmp}/x.duckdb"],
        ["subscribers", "add", "not-an-email", "--db", "{tmp}/x.duckdb"],
        ["subscribers", "remove", "nobody@example.com", "--db", "{tmp}/x.duckdb"],
        ["subscribers", "add", "a@example.com,b@example.com", "--db", "{tmp}/x.duckdb"],
        ["subscribers", "add", "Eve <eve@example.com>", "--db", "{tmp}/x.duckdb"],
        ["sql", "SELECT 1", "--max-rows", "0", "--db", "{tmp}/x.duckdb"],
        ["themes", "--db", ""],
        ["frobnicate"],
        ["sql"],
        ["search", "   ", "--db", "{tmp}/x.duckdb"],
        ["search", "anything", "--db", "{tmp}/missing.duckdb"],
        ["export", "--table", "no_such_table", "--db", "{tmp}/x.duckdb", "--out", "{tmp}/export"],
        ["export", "--format", "xlsx", "--db", "{tmp}/x.duckdb"],
        ["snapshot", "{tmp}/x.duckdb", "--db", "{tmp}/x.duckdb"],
        ["snapshot", "{tmp}/no/folder/copy.duckdb", "--db", "{tmp}/x.duckdb"],
        ["theme", "show", "99999", "--db", "{tmp}/x.duckdb"],
        ["plot", "theme-timeline", "1", "--out", "{tmp}/chart.txt", "--db", "{tmp}/x.duckdb"],
        ["plot", "theme-timeline", "99999", "--db", "{tmp}/x.duckdb"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_user_mistakes_give_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]) -> None:
    code, _, err = _run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    _one_line_error(code, err)


def test_bad_settings_fail_before_the_run_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "x.duckdb"
    bad_sources = tmp_path / "sources.toml"
    bad_sources.write_text('[[sources]]\nname = "A"\nkind = "radio"\nurl = "https://a.example/feed"\n')
    code, _, err = _run(capsys, "run", "--sources", str(bad_sources), "--db", str(db))
    _one_line_error(code, err)
    assert "kind must be 'news' or 'podcast'" in err
    monkeypatch.setenv("UNDERCURRENT_SMTP_URL", "smtp://user:secret@mail.example:notaport")
    code, _, err = _run(capsys, "run", "--db", str(db))
    _one_line_error(code, err)
    assert "UNDERCURRENT_SMTP_URL" in err and "secret" not in err
    assert not db.exists()  # nothing was started


def test_foreign_files_as_db_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import duckdb

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database")
    foreign = tmp_path / "other.duckdb"
    with duckdb.connect(str(foreign)) as con:
        con.execute("CREATE TABLE sources (x INTEGER)")
    for path in (text_file, foreign):
        code, _, err = _run(capsys, "subscribers", "add", "a@example.com", "--db", str(path))
        _one_line_error(code, err)
    assert text_file.read_text() == "not a database"


def test_demo_refuses_a_database_with_real_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from core.models import Source
    from store.db import connect
    from store.documents import upsert_sources

    db = tmp_path / "real.duckdb"
    with connect(db) as con:
        upsert_sources(con, [Source("src_real", "Real outlet", "news", "https://news.example/feed.xml")])
    code, _, err = _run(capsys, "demo", "--db", str(db), "--out", str(tmp_path / "out"))
    _one_line_error(code, err)
    assert "non-sample sources" in err


def test_bad_date_message_says_the_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, _, err = _run(capsys, "run", "--date", "2026-02-30", "--db", str(tmp_path / "x.duckdb"))
    assert "expected YYYY-MM-DD" in err


def test_subscribers_add_list_remove(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "subs.duckdb")
    assert _run(capsys, "subscribers", "add", "Ann@Example.com", "--db", db)[0] == 0
    code, out, _ = _run(capsys, "subscribers", "add", "ann@example.com", "--db", db)
    assert code == 0 and "already subscribed" in out
    code, out, _ = _run(capsys, "subscribers", "list", "--db", db)
    assert "ann@example.com\tactive" in out
    assert _run(capsys, "subscribers", "remove", "ann@example.com", "--db", db)[0] == 0
    code, out, _ = _run(capsys, "subscribers", "list", "--db", db)
    assert "ann@example.com\tunsubscribed" in out


def test_db_from_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNDERCURRENT_DB", str(tmp_path / "env.duckdb"))
    assert _run(capsys, "subscribers", "add", "b@example.com")[0] == 0
    assert (tmp_path / "env.duckdb").exists()


@pytest.mark.slow
def test_themes_lists_counts(capsys: pytest.CaptureFixture[str], sample_db: Path) -> None:
    code, out, _ = _run(capsys, "themes", "--db", str(sample_db))
    assert code == 0
    assert "claims" in out and "sources" in out
    assert len([line for line in out.splitlines() if line.startswith("│")]) >= 5


@pytest.mark.slow
def test_themes_show_the_latest_day_and_an_operator_label_survives_relabelling(
    capsys: pytest.CaptureFixture[str], sample_db: Path
) -> None:
    import duckdb

    from flows.stages import relabel

    code, out, _ = _run(capsys, "themes", "--db", str(sample_db))
    assert code == 0 and "momentum" in out and "CN" in out
    con = duckdb.connect(str(sample_db))
    theme_id, auto = con.execute("SELECT theme_id, label FROM themes ORDER BY theme_id LIMIT 1").fetchone()
    day_rows = con.execute("SELECT count(*), sum(share) FROM theme_daily").fetchone()
    con.close()
    assert day_rows[0] > 0 and abs(day_rows[1] - 1.0) < 1e-4  # one day of shares summing to 1
    code, out, _ = _run(
        capsys, "themes", "rename", str(theme_id), "Open weights as a loss leader", "--db", str(sample_db)
    )
    assert code == 0 and "labelled" in out
    con = duckdb.connect(str(sample_db))
    relabel(con)  # what every run does after assigning claims
    assert con.execute("SELECT label, label_auto FROM themes WHERE theme_id = ?", [theme_id]).fetchone() == (
        "Open weights as a loss leader",
        auto,
    )
    con.close()
    code, out, _ = _run(capsys, "themes", "rename", str(theme_id), "--clear", "--db", str(sample_db))
    assert code == 0
    con = duckdb.connect(str(sample_db))
    assert con.execute("SELECT label FROM themes WHERE theme_id = ?", [theme_id]).fetchone() == (auto,)
    con.close()
    code, _, err = _run(capsys, "themes", "rename", "99999", "Nothing", "--db", str(sample_db))
    assert code != 0 and err.count("\n") == 1 and "no theme 99999" in err
    code, _, err = _run(capsys, "themes", "rename", str(theme_id), "--db", str(sample_db))
    assert code != 0 and "LABEL or --clear" in err


@pytest.mark.slow
def test_merging_themes_moves_claims_retires_the_old_id_and_records_the_change(
    capsys: pytest.CaptureFixture[str], sample_db: Path
) -> None:
    import duckdb

    con = duckdb.connect(str(sample_db))
    (a, a_claims), (b, b_claims) = con.execute(
        "SELECT theme_id, count(*) FROM claim_themes GROUP BY theme_id ORDER BY theme_id LIMIT 2"
    ).fetchall()
    before = con.execute("SELECT max(theme_id) FROM themes").fetchone()[0]
    con.close()
    code, out, _ = _run(capsys, "themes", "merge", str(a), str(b), "--db", str(sample_db))
    assert code == 0 and f"{a_claims} claim" in out
    con = duckdb.connect(str(sample_db))
    assert con.execute("SELECT count(*) FROM claim_themes WHERE theme_id = ?", [a]).fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM claim_themes WHERE theme_id = ?", [b]).fetchone() == (a_claims + b_claims,)
    assert con.execute("SELECT merged_into, centroid FROM themes WHERE theme_id = ?", [a]).fetchone() == (b, None)
    change = con.execute("SELECT kind, old_theme_id, new_theme_id, claims, reason FROM theme_changes").fetchall()
    assert change == [("merge", a, b, a_claims, "operator")]
    assert con.execute("SELECT count(*) FROM theme_daily WHERE theme_id = ?", [a]).fetchone() == (0,)
    con.close()
    code, out, _ = _run(capsys, "themes", "--db", str(sample_db))
    assert code == 0 and not any(line.startswith(f"│ {a} ") for line in out.splitlines())
    # a retired theme cannot be merged again, and no id is reused by later themes
    code, _, err = _run(capsys, "themes", "merge", str(a), str(b), "--db", str(sample_db))
    assert code != 0 and "merged into another already" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "themes", "merge", str(b), str(b), "--db", str(sample_db))
    assert code != 0 and "itself" in err
    from store.themes import next_theme_id

    con = duckdb.connect(str(sample_db))
    assert next_theme_id(con) == before + 1
    con.close()


@pytest.mark.slow
def test_reclustering_keeps_theme_ids_records_changes_and_is_stable(
    capsys: pytest.CaptureFixture[str], sample_db: Path
) -> None:
    import duckdb

    con = duckdb.connect(str(sample_db))
    ids_before = {r[0] for r in con.execute("SELECT theme_id FROM themes").fetchall()}
    themed_before = {r[0] for r in con.execute("SELECT claim_id FROM claim_themes").fetchall()}
    con.close()
    code, out, _ = _run(capsys, "themes", "recluster", "--db", str(sample_db))
    assert code == 0 and "claims moved" in out
    con = duckdb.connect(str(sample_db))
    ids_after = {r[0] for r in con.execute("SELECT theme_id FROM themes").fetchall()}
    assert ids_before <= ids_after  # no theme renumbered or dropped; new ones get new ids
    assert all(new > max(ids_before) for new in ids_after - ids_before)
    themed_after = {r[0] for r in con.execute("SELECT claim_id FROM claim_themes").fetchall()}
    assert themed_before <= themed_after  # noise keeps its theme
    reasons = {r[0] for r in con.execute("SELECT reason FROM theme_changes").fetchall()}
    assert reasons <= {"recluster"}
    merged = con.execute("SELECT theme_id, merged_into FROM themes WHERE merged_into IS NOT NULL").fetchall()
    for old, new in merged:
        assert con.execute("SELECT count(*) FROM claim_themes WHERE theme_id = ?", [old]).fetchone() == (0,)
        assert con.execute(
            "SELECT count(*) FROM theme_changes WHERE kind = 'merge' AND old_theme_id = ? AND new_theme_id = ?",
            [old, new],
        ).fetchone() == (1,)
    con.close()
    code, out, _ = _run(capsys, "themes", "recluster", "--db", str(sample_db))
    assert code == 0 and out.startswith("0 claims moved, 0 themes merged, 0 themes created")


@pytest.mark.slow
def test_sql_prints_a_table_and_refuses_writes(capsys: pytest.CaptureFixture[str], sample_db: Path) -> None:
    code, out, _ = _run(
        capsys, "sql", "SELECT kind, count(*) AS n FROM documents GROUP BY kind ORDER BY kind", "--db", str(sample_db)
    )
    assert code == 0
    assert "article" in out and "17" in out and "transcript" in out
    code, _, err = _run(capsys, "sql", "DELETE FROM claims", "--db", str(sample_db))
    _one_line_error(code, err)
    code, _, err = _run(capsys, "sql", "SELEC nonsense", "--db", str(sample_db))
    _one_line_error(code, err)
    assert "SQL error" in err
    target = sample_db.parent / "leak.csv"
    code, _, err = _run(capsys, "sql", f"COPY claims TO '{target}'", "--db", str(sample_db))
    _one_line_error(code, err)
    assert not target.exists()


def test_ingest_local_files_then_again(capsys: pytest.CaptureFixture[str], tmp_path: Path, shared: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(shared / "corpus/html/trafilatura/blog.python.org.html", folder / "page.html")
    shutil.copy(shared / "corpus/transcripts/vtt/podcast-namespace_example.vtt", folder / "episode.vtt")
    shutil.copy(shared / "seeds/000_ca840be5131ca0b3.txt", folder / "seed.txt")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.7 not supported")
    body = " ".join(["Beijing treats open-weight models as a loss leader for its cloud business."] * 6)
    (folder / "saved.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Saved</title>'
        "<item><title>Saved story</title><guid>s1</guid><link>file:///etc/passwd</link>"
        f"<description>{body}</description></item></channel></rss>"
    )
    db = str(tmp_path / "ingest.duckdb")
    code, out, err = _run(capsys, "ingest", str(folder), "--db", db)
    assert code == 0
    assert out.startswith("4 new documents, 0 already known, 1 skipped")
    assert "notes.pdf" in err and "PDF files are not supported" in err
    code, out, _ = _run(capsys, "ingest", str(folder), "--db", db)
    assert out.startswith("0 new documents, 4 already known")
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute("SELECT kind, extraction FROM documents ORDER BY kind, extraction").fetchall()
        assert rows == [("article", "feed"), ("article", "file"), ("article", "file"), ("transcript", "transcript")]
        assert "/etc/passwd" not in con.execute("SELECT string_agg(text, ' ') FROM documents").fetchone()[0]


@pytest.mark.slow
def test_run_processes_ingested_documents_without_sources(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    shared: Path,
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UNDERCURRENT_SOURCES", raising=False)
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "run.duckdb")
    for seed in sorted((shared / "seeds").glob("*.txt")):
        assert _run(capsys, "ingest", str(seed), "--db", db)[0] == 0
    code, out, err = _run(capsys, "run", "--date", "2026-11-21", "--db", db)
    assert code == 0, err
    assert "documents new: 0" in out and "claims extracted: " in out
    claims = int(out.split("claims extracted: ")[1].split(",")[0])
    assert claims >= 30
    assert list((tmp_path / "outbox").glob("*.eml")) == []  # nobody subscribed


@pytest.mark.slow
def test_demo_through_the_installed_command(tmp_path: Path) -> None:
    """The console script as a newcomer runs it: fresh Prefect home, offline, files written."""
    exe = Path(sys.executable).with_name("undercurrent")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "HF_HUB_OFFLINE": "1"}
    env.pop("PREFECT_API_URL", None)
    env.pop("UNDERCURRENT_DB", None)
    result = subprocess.run(
        [str(exe), "demo", "--db", str(tmp_path / "demo.duckdb"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Undercurrent daily brief" in result.stdout
    assert result.stdout.count("Echoed by") == 5
    for name in ("digest.html", "digest.md", "digest.txt"):
        assert (tmp_path / "out" / name).stat().st_size > 1000
    assert len(list((tmp_path / "out" / "outbox").glob("*.eml"))) == 1
    mixed = subprocess.run(
        [str(exe), "demo", "--db", str(tmp_path / "demo.duckdb"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=tmp_path,
    )
    assert mixed.returncode == 0 and "documents new: 0" in mixed.stderr


def test_sources_import_opml_then_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    opml = tmp_path / "reader.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>Export</title></head><body>'
        '<outline text="AI"><outline text="Pacific Ledger" type="rss" xmlUrl="https://ledger.example/feed.xml"/>'
        '<outline text="Compute Pod" type="podcast" xmlUrl="https://pod.example/rss"/>'
        '<outline text="No feed here" htmlUrl="https://site.example/"/></outline></body></opml>'
    )
    sources = tmp_path / "sources.toml"
    db = str(tmp_path / "s.duckdb")
    code, out, _ = _run(capsys, "sources", "import", str(opml), "--sources", str(sources), "--db", db)
    assert code == 0 and "added 2 feeds" in out
    code, out, _ = _run(capsys, "sources", "import", str(opml), "--sources", str(sources), "--db", db)
    assert "added 0 feeds" in out and "2 already there" in out
    from flows.sourcesfile import load_sources_file

    loaded = load_sources_file(sources)
    assert [(s.name, s.kind) for s in loaded] == [("Pacific Ledger", "news"), ("Compute Pod", "podcast")]
    code, out, _ = _run(capsys, "sources", "list", "--sources", str(sources), "--db", db)
    assert code == 0
    assert "Pacific Ledger" in out and "not fetched yet" in out


def test_yaml_sources_file(tmp_path: Path) -> None:
    from flows.sourcesfile import load_sources_file

    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: Harbourline\n    kind: news\n    url: https://h.example/feed\n    country: HK\n"
        "    state_affiliated: false\n"
    )
    (source,) = load_sources_file(path)
    assert (source.name, source.country, source.state_affiliated) == ("Harbourline", "HK", False)
    path.write_text("sources: [unclosed")
    with pytest.raises(UserError, match="not valid YAML"):
        load_sources_file(path)


def test_sources_list_shows_health(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from core.models import Document, Source
    from extract.schedule import FeedState
    from store.db import connect
    from store.documents import insert_document, upsert_sources
    from store.feeds import save_state

    now = datetime.now(UTC).replace(tzinfo=None)
    db = tmp_path / "health.duckdb"
    sources = [Source(f"src_{n}", n, "news", f"https://{n}.example/feed") for n in ("alpha", "beta", "gamma")]
    with connect(db) as con:
        upsert_sources(con, sources)
        save_state(con, "src_alpha", FeedState(last_success_at=now - timedelta(hours=1), last_status=200))
        save_state(
            con,
            "src_beta",
            FeedState(
                last_error_at=now,
                last_error="HTTP 503",
                consecutive_failures=3,
                next_check_at=now + timedelta(hours=2),
                last_status=503,
            ),
        )
        save_state(con, "src_gamma", FeedState(last_error="HTTP 410 Gone", consecutive_failures=1, stopped=True))
        for day in (1, 2, 9):
            text = f"Story {day}: China's open AI models and American export controls compete for developers."
            insert_document(
                con,
                Document(
                    f"doc{day}",
                    "src_alpha",
                    "article",
                    f"https://alpha.example/{day}",
                    "t",
                    now - timedelta(days=day),
                    "en",
                    text,
                ),
            )
    code, out, _ = _run(capsys, "sources", "list", "--db", str(db))
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert "ok" in lines["alpha"] and lines["alpha"].rstrip(" │").endswith("2")  # 2 items in the last 7 days
    assert "failing" in lines["beta"] and "HTTP 503" in lines["beta"] and " 3 " in lines["beta"]
    assert "stopped (410)" in lines["gamma"]


def test_opml_import_with_non_ascii_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    opml = tmp_path / "export.opml"
    opml.write_text(
        '<?xml version="1.0" encoding="utf-8"?><opml version="2.0"><body>'
        '<outline text="观察者 🔭 AI" type="rss" xmlUrl="https://guancha.example/rss"/>'
        '<outline text="Quote &quot;this&quot; \\ back" type="rss" xmlUrl="https://q.example/rss"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "Existing"\nkind = "news"\nurl = "https://e.example/rss"\n')
    code, out, _ = _run(
        capsys, "sources", "import", str(opml), "--sources", str(sources), "--db", str(tmp_path / "x.duckdb")
    )
    assert code == 0 and "added 2 feeds" in out
    from flows.sourcesfile import load_sources_file

    names = [s.name for s in load_sources_file(sources)]
    assert names == ["Existing", "观察者 🔭 AI", 'Quote "this" \\ back']
