"""Installing plugins from folders, archives and catalogs: checks, replacement rules, atomicity."""

from __future__ import annotations

import errno
import hashlib
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomli_w

from qtui.plugins.bundles import catalog
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.catalog import (
    ORIGIN_FILE,
    DownloadError,
    NotAvailable,
    Origin,
    PackageError,
    ReplaceRefused,
    install,
    installed_from,
    load_catalog,
    read_index,
    resolve,
)
from qtui.plugins.bundles.discovery import Source, discover
from qtui.plugins.bundles.manifest import Version
from qtui.plugins.trust.permissions import PermissionStore

Pack = Callable[..., Path]


@pytest.fixture
def packed(tmp_path: Path, make_plugin) -> Pack:
    """packed(name, version, ..., **make_plugin fields): an archive made by catalog.pack in dist/."""
    count = iter(range(1000))

    def make(name: str = "hello", version: str = "1.0.0", **fields: object) -> Path:
        folder = make_plugin(tmp_path / f"src{next(count)}", name, version=version, **fields)
        dist = tmp_path / "dist"
        dist.mkdir(exist_ok=True)
        return catalog.pack(folder, dist).path

    return make


def _index(path: Path, archive: Path | str, *, sha256: str | None = None, **fields: object) -> Path:
    entry = {"name": "hello", "version": "1.0.0", "description": "hello panel", "permissions": [],
             "archive": str(archive),
             "sha256": sha256 or hashlib.sha256(Path(str(archive)).read_bytes()).hexdigest()}
    entry.update(fields)
    path.write_text(tomli_w.dumps({"plugin": [entry]}))
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(user_plugins: Path) -> list[str]:
    """Everything in the user plugin dir apart from plugin folders and the install lock."""
    return sorted(p.name for p in user_plugins.iterdir() if p.name.startswith(".") and p.name != ".qtui-install.lock")


def test_install_from_a_folder_copies_exactly_the_bundle(make_plugin, tmp_path: Path, user_plugins: Path) -> None:
    source = make_plugin(tmp_path / "src", "hello", permissions=["stats.read"],
                         files={"init.lua": "return {}\n", "lib/util.lua": "return 1\n", "README.md": "hi"})
    (source / ".git").mkdir()
    (source / ".git/config").write_text("[core]")
    (source / "init.lua~").write_text("old")

    installed = install(source)

    target = user_plugins / "hello"
    assert installed.folder == target and installed.changed and installed.replaced is None
    files = _tree(target)
    origin = files.pop(ORIGIN_FILE)  # where it came from, beside the bundle (hidden: not part of it)
    assert files == {k: v for k, v in _tree(source).items() if not k.startswith(".git") and k != "init.lua~"}
    assert origin.decode() == f'from = "folder"\nlocation = "{source}"\n'
    assert installed_from(target) == Origin("folder", str(source))
    assert installed.code_hash == bundle_hash(source) == bundle_hash(target)
    plugin = discover().get("hello")
    assert plugin is not None and plugin.source is Source.USER and plugin.folder == target
    assert PermissionStore().records("hello") == ()  # installing grants nothing
    assert _leftovers(user_plugins) == []


def test_install_from_an_archive_reports_its_sha256(packed, user_plugins: Path) -> None:
    archive = packed(files={"init.lua": "return {}\n", "lib/a.lua": "return 2\n"})
    installed = install(archive)
    assert installed.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert _tree(user_plugins / "hello") == {
        "init.lua": b"return {}\n", "lib/a.lua": b"return 2\n",
        "manifest.toml": (user_plugins / "hello/manifest.toml").read_bytes(),
        ORIGIN_FILE: f'from = "archive"\nlocation = "{archive}"\n'.encode(),
    }
    assert installed_from(user_plugins / "hello") == Origin("archive", str(archive))


def test_install_by_name_from_an_index_next_to_the_archive(packed, tmp_path: Path, user_plugins: Path) -> None:
    archive = packed(version="1.2.0", permissions=["stats.read"])
    index = _index(tmp_path / "dist/index.toml", archive.name, version="1.2.0", permissions=["stats.read"],
                   sha256=hashlib.sha256(archive.read_bytes()).hexdigest())
    entry = resolve("hello", load_catalog([index]))
    assert isinstance(entry, catalog.Entry) and entry.location == str(archive)
    installed = install(entry)
    assert installed.manifest.version == Version(1, 2, 0)
    assert bundle_hash(user_plugins / "hello") == installed.code_hash
    assert installed_from(user_plugins / "hello") == Origin("catalog", str(archive), str(index))


def test_install_by_name_over_http(packed, tmp_path: Path, http_folder, user_plugins: Path) -> None:
    www, base = http_folder
    archive = packed()
    (www / archive.name).write_bytes(archive.read_bytes())
    index = _index(tmp_path / "index.toml", base + archive.name,
                   sha256=hashlib.sha256(archive.read_bytes()).hexdigest())
    installed = install(resolve("hello", load_catalog([index])))
    assert installed.changed and (user_plugins / "hello/init.lua").read_text() == "return {}\n"


def test_a_checksum_mismatch_installs_nothing(packed, tmp_path: Path, http_folder, user_plugins: Path) -> None:
    www, base = http_folder
    archive = packed()
    (www / archive.name).write_bytes(archive.read_bytes())
    index = _index(tmp_path / "index.toml", base + archive.name, sha256="0" * 64)
    with pytest.raises(PackageError, match="checksum mismatch") as caught:
        install(resolve("hello", load_catalog([index])))
    assert "0" * 64 in str(caught.value) and hashlib.sha256(archive.read_bytes()).hexdigest() in str(caught.value)
    assert not (user_plugins / "hello").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": "1.0.1"}, "holds hello 1.0.0, not hello 1.0.1"),
        ({"permissions": []}, "the plugin requests jobs.purge, but the catalog lists nothing"),
    ],
)
def test_an_archive_that_is_not_what_the_index_says_is_refused(
    packed, tmp_path: Path, user_plugins: Path, fields: dict[str, object], message: str
) -> None:
    archive = packed(permissions=["jobs.purge"])
    entry = {"permissions": ["jobs.purge"], **fields}
    index = _index(tmp_path / "index.toml", archive, **entry)
    with pytest.raises(PackageError, match=message):
        install(read_index(index)[0])
    assert not (user_plugins / "hello").exists()


def test_hostile_archives_install_nothing(make_tar, tmp_path: Path, user_plugins: Path) -> None:
    manifest = b'name = "hello"\nversion = "1.0.0"\ndescription = "x"\napi = "1"\n'
    for members in (
        [("hello/manifest.toml", manifest), ("hello/init.lua", b""), ("hello/../../escape.lua", b"x")],
        [("/tmp/absolute.lua", b"x")],
    ):
        archive = tmp_path / "hostile.tar.gz"
        archive.write_bytes(make_tar(members))
        with pytest.raises(PackageError, match="not installed"):
            install(archive)
    assert not (tmp_path / "escape.lua").exists() and not Path("/tmp/absolute.lua").exists()
    assert not user_plugins.exists() or [p.name for p in user_plugins.iterdir()] == [".qtui-install.lock"]


def test_an_invalid_plugin_is_reported_inside_its_archive(make_tar, tmp_path: Path, user_plugins: Path) -> None:
    manifest = b'name = "hello"\nversion = "1.0.0"\ndescription = "x"\napi = "1"\n'
    archive = tmp_path / "hello-1.0.0.tar.gz"
    archive.write_bytes(make_tar([("hello/manifest.toml", manifest),
                                  ("hello/init.lua", b"function activate(\n  return\nend\n")]))
    with pytest.raises(PackageError) as caught:
        install(archive)
    (problem,) = caught.value.problems
    assert problem.file == archive / "hello/init.lua" and problem.line == 2
    assert str(caught.value) == f"{archive / 'hello'}: the plugin has 1 problem"
    assert not (user_plugins / "hello").exists() and _leftovers(user_plugins) == []


def test_a_newer_version_replaces_the_installed_one_and_others_need_force(packed, user_plugins: Path) -> None:
    install(packed(version="1.0.0"))
    upgrade = install(packed(version="1.1.0"))
    assert upgrade.replaced == Version(1, 0, 0) and upgrade.changed

    with pytest.raises(ReplaceRefused, match=r"hello 1\.1\.0 is installed .*; 1\.0\.0 is an older version"):
        install(packed(version="1.0.0"))
    other_code = packed(version="1.1.0", files={"init.lua": "return { changed = true }\n"})
    with pytest.raises(ReplaceRefused, match="1.1.0 is the same version with other code: use --force"):
        install(other_code)
    assert discover().get("hello").manifest.version == Version(1, 1, 0)
    assert (user_plugins / "hello/init.lua").read_text() == "return {}\n"

    forced = install(other_code, force=True)
    assert forced.replaced == Version(1, 1, 0)
    assert (user_plugins / "hello/init.lua").read_text() == "return { changed = true }\n"
    again = install(other_code)
    assert not again.changed and again.replaced is None
    assert _leftovers(user_plugins) == []


def test_a_folder_in_the_way_is_replaced_only_with_force(packed, user_plugins: Path) -> None:
    (user_plugins / "hello").mkdir(parents=True)
    (user_plugins / "hello/notes.txt").write_text("mine")
    with pytest.raises(ReplaceRefused, match="exists but is not an install of hello"):
        install(packed())
    assert (user_plugins / "hello/notes.txt").read_text() == "mine"
    install(packed(), force=True)
    assert not (user_plugins / "hello/notes.txt").exists()


def test_the_same_plugin_in_another_user_folder_is_not_installed_twice(packed, make_plugin, user_plugins: Path) -> None:
    make_plugin(user_plugins, "hello-dev", name="hello")
    with pytest.raises(PackageError, match=f"hello is already installed in {user_plugins / 'hello-dev'}"):
        install(packed(version="2.0.0"), force=True)


def test_replacing_a_linked_install_leaves_the_linked_folder_alone(
    packed, make_plugin, tmp_path: Path, user_plugins: Path
) -> None:
    work = make_plugin(tmp_path / "work", "hello", version="0.1.0")
    user_plugins.mkdir(parents=True)
    (user_plugins / "hello").symlink_to(work)
    install(packed(version="1.0.0"))
    assert not (user_plugins / "hello").is_symlink()
    assert (work / "init.lua").read_text() == "return {}\n" and (work / "manifest.toml").exists()


def test_a_failure_while_writing_leaves_the_old_install_intact(
    packed, make_tar, tmp_path: Path, user_plugins: Path
) -> None:
    install(packed(version="1.0.0"))
    before = _tree(user_plugins / "hello")
    manifest = b'name = "hello"\nversion = "2.0.0"\ndescription = "x"\napi = "1"\n'
    archive = tmp_path / "hello-2.0.0.tar.gz"
    archive.write_bytes(make_tar([
        ("hello/init.lua", b"return {}\n"), ("hello/manifest.toml", manifest),
        ("hello/" + "n" * 300 + ".lua", b"return 1\n"),  # the file system refuses this name
    ]))
    with pytest.raises(OSError) as caught:
        install(archive)
    assert caught.value.errno == errno.ENAMETOOLONG
    assert _tree(user_plugins / "hello") == before
    assert _leftovers(user_plugins) == []


def test_a_failure_to_move_the_new_install_into_place_puts_the_old_one_back(
    packed, user_plugins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(packed(version="1.0.0"))
    before = _tree(user_plugins / "hello")
    rename = os.rename

    def failing(src: str | Path, dst: str | Path) -> None:
        if Path(src).name.startswith(".qtui-staging-"):
            raise OSError(errno.EIO, "Input/output error", str(src))
        rename(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(OSError, match="Input/output error"):
        install(packed(version="2.0.0"))
    assert _tree(user_plugins / "hello") == before
    assert discover().get("hello").manifest.version == Version(1, 0, 0)
    assert _leftovers(user_plugins) == []


def test_the_next_install_finishes_what_a_crashed_one_left(packed, user_plugins: Path) -> None:
    install(packed(version="1.0.0"))
    before = _tree(user_plugins / "hello")
    # A crash right after the old install was set aside, with a half-written staging folder.
    os.rename(user_plugins / "hello", user_plugins / ".hello.replaced")
    (user_plugins / ".qtui-staging-x1y2").mkdir()
    (user_plugins / ".qtui-staging-x1y2/init.lua").write_text("half")
    (user_plugins / ".gone.removing").mkdir()

    with pytest.raises(ReplaceRefused):
        install(packed(version="0.9.0"))
    assert _tree(user_plugins / "hello") == before
    assert _leftovers(user_plugins) == []


def test_resolve_tells_names_from_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hello").mkdir()
    with pytest.raises(NotAvailable, match="no plugin named 'hello' in the catalog"):
        resolve("hello", load_catalog([]))
    assert resolve("./hello") == Path("hello")
    with pytest.raises(NotAvailable, match="missing.tar.gz: no such folder or archive"):
        resolve("missing.tar.gz")


class _Server:
    """A real HTTP server on 127.0.0.1 whose GET handler a test chooses."""

    def __init__(self, do_get: Callable[[http.server.BaseHTTPRequestHandler], None]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                do_get(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hello.tar.gz"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[http.server.BaseHTTPRequestHandler], None]], str]]:
    servers: list[_Server] = []

    def start(do_get: Callable[[http.server.BaseHTTPRequestHandler], None]) -> str:
        servers.append(_Server(do_get))
        return servers[-1].url

    yield start
    for server in servers:
        server.close()


def _respond(status: int, headers: dict[str, str], body: bytes = b"") -> Callable[..., None]:
    def do_get(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    return do_get


def test_download_errors_name_the_url_and_what_went_wrong(serve) -> None:
    with pytest.raises(DownloadError, match=r"hello.tar.gz: HTTP 404"):
        catalog.fetch(serve(_respond(404, {"Content-Length": "0"})))
    with pytest.raises(DownloadError, match="file:///etc/passwd"):
        catalog.fetch(serve(_respond(302, {"Location": "file:///etc/passwd", "Content-Length": "0"})))
    with pytest.raises(DownloadError, match="redirected to ftp://127.0.0.1/hello.tar.gz, refused"):
        catalog.fetch(serve(_respond(302, {"Location": "ftp://127.0.0.1/hello.tar.gz", "Content-Length": "0"})))
    with pytest.raises(DownloadError, match="2000 bytes, more than the limit of 1000"):
        catalog.fetch(serve(_respond(200, {"Content-Length": "2000"}, bytes(2000))), max_bytes=1000)
    with pytest.raises(DownloadError, match="larger than 1000 bytes"):
        catalog.fetch(serve(_respond(200, {}, bytes(2000))), max_bytes=1000)
    with pytest.raises(DownloadError, match="127.0.0.1:1/x.tar.gz: Connection refused"):
        catalog.fetch("http://127.0.0.1:1/x.tar.gz")
    with pytest.raises(DownloadError, match="http://\\*\\*\\*@127.0.0.1:1/x.tar.gz"):
        catalog.fetch("http://user:secret@127.0.0.1:1/x.tar.gz")


def test_a_download_that_trickles_is_cut_off(serve) -> None:
    stop = threading.Event()

    def trickle(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        while not stop.wait(0.05):
            handler.wfile.write(b"x")
            handler.wfile.flush()

    try:
        with pytest.raises(DownloadError, match="took longer than 0.3 seconds"):
            catalog.fetch(serve(trickle), timeout=0.3)
    finally:
        stop.set()


def test_a_bundled_plugin_installs_only_as_the_catalog_saw_it(make_plugin, bundled: Path, user_plugins: Path) -> None:
    folder = make_plugin(bundled, "hello")
    entry = load_catalog().newest("hello")
    (folder / "init.lua").write_text("return { edited = true }\n")
    with pytest.raises(PackageError, match="the plugin's files changed since the catalog was read"):
        install(entry)
    assert install(load_catalog().newest("hello")).code_hash == bundle_hash(folder)
    assert (user_plugins / "hello/init.lua").read_text() == "return { edited = true }\n"


def test_a_plugin_whose_entry_file_is_under_spec_is_not_installed(make_plugin, tmp_path: Path,
                                                                 user_plugins: Path) -> None:
    source = make_plugin(tmp_path / "src", "hello", entry="spec/init.lua",
                         files={"spec/init.lua": "function activate() end\n"})
    with pytest.raises(PackageError) as caught:
        install(source)
    assert "entry: 'spec/init.lua' is under spec/" in "\n".join(str(p) for p in caught.value.problems)
    assert not (user_plugins / "hello").exists()
